using System.Diagnostics;
using System.Globalization;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training;

/// <summary>
/// Runs a training config to the end, one epoch at a time: shuffle, augment, objective step, SGD step; then clean and
/// PGD accuracy on the fixed evaluation subset, a metrics line, best.safetensors when the PGD accuracy improved, and
/// every <see cref="TrainConfig.CheckpointEvery"/> epochs last.safetensors and resume.safetensors.
///
/// Reproducibility: everything random is a pure function of the seed and where the run is. The data order of epoch e
/// is <see cref="ShuffleLoader.EpochOrder"/>(seed, e); the crop and flip of the sample at position p of that order are
/// drawn from Philox(seed, stream = e, purpose = augment, sample = p), and since p is itself a function of
/// (seed, e, sample id), the augmentation of a sample in an epoch does not depend on the batch size or on where the
/// run was stopped; the objective keys its draws by (seed, step, sample ids) and holds no state. With the weights,
/// momentum buffers, SGD iteration and the epoch's running sums restored from resume.safetensors, a resumed run
/// therefore computes exactly what an uninterrupted one does (bit for bit on the CPU backend).
///
/// Stopping: the cancellation token is checked before every step and before each evaluation; when set, the state is
/// saved (mid-epoch if need be) and <see cref="Run"/> returns <see cref="TrainStatus.Cancelled"/>. A NaN or infinite
/// loss throws <see cref="TrainingDivergedException"/> before the step is applied and without writing a checkpoint.
/// The trainer writes nothing to the console: it reports through <see cref="IProgress{T}"/>, and what it did to the
/// run folder on opening or finishing it (a restart, dropped lines, removed files) through <see cref="Notice"/>.
/// </summary>
public sealed partial class Trainer : IDisposable
{
    private readonly TrainConfig _config;
    private readonly ImageClassifier _model;
    private readonly TrainingData _data;
    private readonly RunDirectory _run;
    private readonly IBackend _backend;
    private readonly Sgd _sgd;
    private readonly TrainStepGraph? _graphed;  // the built-in objectives' step: one graph per shape (TrainStepGraph.cs)

    /// <param name="model">Built with <see cref="TrainConfig.Seed"/> (its initial weights are part of the run);
    /// when resuming, its weights are replaced by the checkpoint's.</param>
    /// <param name="createObjective">Builds the objective from the training set and seed; the trainer owns and
    /// disposes it.</param>
    public Trainer(TrainConfig config, ImageClassifier model, TrainingData data,
        Func<ObjectiveContext, ITrainingObjective> createObjective, RunDirectory run)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(createObjective);
        ArgumentNullException.ThrowIfNull(run);
        config.Validate("config");
        (_config, _model, _data, _run) = (config, model, data, run);
        _backend = model.Parameters().FirstOrDefault()?.Value.Backend
            ?? throw new ArgumentException("the model has no parameters to train");
        var shape = model.InputShape;
        if (shape[0] != data.Train.C || shape[1] != data.Train.H || shape[2] != data.Train.W)
            throw new ArgumentException(
                $"{model.GetType().Name} takes {string.Join("×", shape)} images, the data is {data.Train}");
        if (model.Classes != data.Train.Classes)
            throw new ArgumentException(
                $"{model.GetType().Name} has {model.Classes} classes, the data {data.Train.Classes}");
        BatchesPerEpoch = config.Data.DropLast
            ? data.Train.N / config.BatchSize
            : (data.Train.N + config.BatchSize - 1) / config.BatchSize;
        if (data.Synthetic is { } synthetic)
        {
            var s = synthetic;
            if (s.C != data.Train.C || s.H != data.Train.H || s.W != data.Train.W || s.Classes != data.Train.Classes)
                throw new ArgumentException($"the synthetic set ({s}) does not match the training images ({data.Train})");
            SyntheticBatchSize = config.Data.Synthetic?.BatchSize ?? config.BatchSize;
            if (s.N < SyntheticBatchSize)
                throw new ArgumentException($"the synthetic set has {s.N} images, fewer than one synthetic batch " +
                                            $"({SyntheticBatchSize})");
            BatchesPerEpoch = Math.Min(BatchesPerEpoch, s.N / SyntheticBatchSize);
        }
        if (BatchesPerEpoch == 0)
            throw new ArgumentException($"batchSize {config.BatchSize} is larger than the {data.Train.N} training " +
                                        "images and data.dropLast is on: an epoch would have no batch");
        if (config.Augmentation.CropPad >= Math.Min(data.Train.H, data.Train.W))
            throw new ArgumentException($"augmentation.cropPad {config.Augmentation.CropPad} must be below the " +
                                        $"image size {data.Train.H}×{data.Train.W}");
        _sgd = new Sgd(model, Schedule(config, BatchesPerEpoch), config.Optimizer.Momentum,
            config.Optimizer.WeightDecay, config.Optimizer.Nesterov, config.Optimizer.DecayWeightsOnly);
        Objective = createObjective(new ObjectiveContext(data.Train, config.Seed));
        _statsEvery = config.StatsEvery;
        if (Objective is IDeviceStatsObjective device)
            _graphed = new TrainStepGraph(model, _sgd, device, config, data.Train, m => Notice?.Invoke(m));
    }

    public ITrainingObjective Objective { get; }

    /// <summary>Set when this process is one rank of a data-parallel run (see <see cref="DataParallel"/>).</summary>
    public DataParallel? Parallel { get; set; }

    /// <summary>Hears one sentence for each thing done to the run folder besides training (see
    /// <see cref="Resume"/>): a restart from step 0, metrics lines dropped, stray temporary files removed; and once, a
    /// training step that could not be captured as a CUDA graph and runs eagerly (with the reason).</summary>
    public Action<string>? Notice { get; set; }

    public int BatchesPerEpoch { get; }

    /// <summary>Synthetic images per step (0 without a synthetic set).</summary>
    public int SyntheticBatchSize { get; }

    /// <summary>
    /// The synthetic set's own shuffle seed: its order is a pure function of (this, epoch), like the real one's, but
    /// not the same permutation when the two sets have the same size.
    /// </summary>
    private ulong SyntheticSeed => _config.Seed ^ 0x9E3779B97F4A7C15UL;
    public long TotalSteps => (long)BatchesPerEpoch * _config.Epochs;

    /// <summary>
    /// The learning-rate schedule in optimizer iterations: milestones at their absolute epochs, cosine ending with
    /// the run, and the warm-up (rounded to whole iterations) in front of either.
    /// </summary>
    public static LrSchedule Schedule(TrainConfig config, int batchesPerEpoch)
    {
        var s = config.Optimizer.Schedule;
        long warmup = (long)Math.Round(s.WarmupEpochs * (double)batchesPerEpoch);
        long total = (long)config.Epochs * batchesPerEpoch;
        LrSchedule inner = s.Kind switch
        {
            "constant" => LrSchedule.Constant(config.Optimizer.Lr),
            "step" => LrSchedule.Step(config.Optimizer.Lr,
                s.Milestones.Select(m => Math.Max(0, (long)m * batchesPerEpoch - warmup)).ToArray(), s.Gamma),
            "cosine" => LrSchedule.Cosine(config.Optimizer.Lr, Math.Max(1, total - warmup), s.EtaMin),
            _ => throw new ArgumentException($"optimizer.schedule.kind '{s.Kind}' is not constant, step or cosine"),
        };
        return warmup > 0 ? inner.WithWarmup(warmup) : inner;
    }

    /// <summary>Trains until every epoch is done or <paramref name="cancellation"/> is set. A new run writes its
    /// manifest first; a resumed one (<see cref="RunDirectory.Resuming"/>) is opened by <see cref="Resume"/>, and one
    /// whose manifest says "completed" is left exactly as it is.</summary>
    public TrainResult Run(RunEnvironment environment, IProgress<TrainProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var (state, manifest) = _run.Resuming ? Resume(environment) : Begin(environment);
        if (manifest.Status == "completed") return AlreadyComplete(state);
        _sgd.ResumeAt(state.Step);
        Parallel?.Start();
        _model.Train();
        using var loader = new ShuffleLoader(_data.Train, _config.BatchSize, _config.Seed,
            dropLast: _config.Data.DropLast);
        using var syntheticLoader = _data.Synthetic is { } proxy
            ? new ShuffleLoader(proxy, SyntheticBatchSize, SyntheticSeed, dropLast: true)
            : null;
        EpochMetrics? last = null;
        var pending = new List<QueuedStep>();
        try
        {
            while (state.Epoch < _config.Epochs)
            {
                // state always says where the run stands, so a resumed epoch and a fresh one take the same path
                var (epoch, done, step, totals) = (state.Epoch, state.BatchesDone, state.Step, state.Partial);
                using (var batches = loader.Epoch(epoch).Skip(done).GetEnumerator())
                using (var synthetic = syntheticLoader?.Epoch(epoch).Skip(done).GetEnumerator())
                {
                    while (done < BatchesPerEpoch)
                    {
                        if (Cancelled(cancellation))
                        {
                            totals = Flush(pending, totals, manifest, progress);
                            return Stop(state with { BatchesDone = done, Step = step, Partial = totals }, manifest,
                                last);
                        }
                        batches.MoveNext();
                        synthetic?.MoveNext();
                        var watch = Stopwatch.StartNew();
                        double lr = _sgd.LearningRate;
                        // A data-parallel rank steps eagerly: its gradients are all-reduced between backward and
                        // the update, on the host (DataParallel), which a captured step cannot contain.
                        var graphed = Parallel is null ? _graphed : null;
                        var result = graphed is null
                            ? TrainStep(batches.Current, synthetic?.Current, epoch, done, step)
                            : new StepResult(null, graphed.Step(batches.Current, synthetic?.Current, epoch, done,
                                step, slot: pending.Count));
                        pending.Add(new QueuedStep(result, lr, epoch, done, step, watch));
                        // The statistics are read (one synchronization) every StatsEvery steps and at the end of an
                        // epoch; a host-side objective has read its own already. A non-finite loss is found here,
                        // before this step's update.
                        bool read = pending.Count >= StatsEvery || done + 1 == BatchesPerEpoch ||
                                    pending[^1].Stats.Host is not null;
                        var stats = read ? ReadAll(pending, manifest) : null;
                        if (graphed is null) _sgd.Step();
                        else graphed.Update();
                        Parallel?.AfterStep(step);
                        (done, step) = (done + 1, step + 1);
                        if (stats is not null) totals = Report(pending, stats, totals, progress);
                    }
                }
                state = state with { BatchesDone = done, Step = step, Partial = totals };
                if (Cancelled(cancellation)) return Stop(state, manifest, last);
                (last, state) = EndEpoch(state, progress);
                if (state.Epoch % _config.CheckpointEvery == 0 || state.Epoch == _config.Epochs) SaveCheckpoint(state);
            }
        }
        finally
        {
            foreach (var q in pending) q.Stats.Device?.Dispose();
        }
        _run.WriteManifest(manifest with { Status = "completed", EndTime = DateTimeOffset.Now });
        if (_run.RemoveTemporaries() is { } removed) Notice?.Invoke(removed);
        return new TrainResult(TrainStatus.Completed, state.Epoch, state.Step, state.BestPgdAccuracy,
            state.BestEpoch, last);
    }

    /// <summary>
    /// Steps between two reads of the training statistics (≥ 1; <see cref="TrainConfig.StatsEvery"/> unless set
    /// here). A built-in objective leaves each step's loss, parts
    /// and logits on the device, so its steps make no device→host copy and no synchronization; the trainer reads the
    /// queued steps together every <see cref="StatsEvery"/> steps and at the end of each epoch, and then checks,
    /// sums (in step order, so the metrics are the same for every setting) and reports each of them. With 1 (the
    /// config's default) every step is reported as soon as it is done, and cancelling from a progress callback stops right
    /// after that step; with k > 1 the reports and a divergence come up to k − 1 steps late (the updates of those
    /// steps are already applied, but no checkpoint is ever written from them).
    /// </summary>
    public int StatsEvery
    {
        get => _statsEvery;
        set => _statsEvery = value >= 1 ? value
            : throw new ArgumentOutOfRangeException(nameof(value), $"StatsEvery must be >= 1, got {value}");
    }

    private int _statsEvery;

    /// <summary>One step whose statistics may still be on the device, with what its report needs.</summary>
    private sealed record QueuedStep(StepResult Stats, double Lr, int Epoch, int Index, long Step, Stopwatch Watch)
    {
        public double Seconds { get; } = Watch.Elapsed.TotalSeconds;
    }

    /// <summary>A step's statistics: on the host already (an objective outside this assembly) or on the device.</summary>
    private sealed record StepResult(StepStats? Host, PendingStats? Device);

    /// <summary>Reads every queued step, in order; the first non-finite one marks the run diverged and throws.</summary>
    private StepStats[] ReadAll(List<QueuedStep> queue, RunManifest manifest)
    {
        var stats = new StepStats[queue.Count];
        for (int i = 0; i < queue.Count; i++)
        {
            var q = queue[i];
            stats[i] = q.Stats.Host ?? q.Stats.Device!.Read();
            if (Parallel is { } parallel) stats[i] = parallel.Combine(stats[i]);
            if (!IsFinite(stats[i]))
            {
                _run.WriteManifest(manifest with { Status = "diverged", EndTime = DateTimeOffset.Now });
                throw Diverged(stats[i], q.Epoch, q.Index, q.Step);
            }
        }
        return stats;
    }

    /// <summary>Adds read steps to the epoch's totals in step order and reports each; empties the queue.</summary>
    private EpochTotals Report(List<QueuedStep> queue, StepStats[] stats, EpochTotals totals,
        IProgress<TrainProgress>? progress)
    {
        for (int i = 0; i < queue.Count; i++)
        {
            var q = queue[i];
            totals = totals.Add(stats[i], q.Lr, q.Seconds);
            progress?.Report(new TrainProgress(q.Epoch + 1, _config.Epochs, q.Index + 1, BatchesPerEpoch, q.Step + 1,
                TotalSteps, totals.LossSum / totals.Count, (double)totals.Correct / totals.Count,
                totals.Count / Math.Max(totals.TrainSeconds, 1e-9), q.Lr, null));
            q.Stats.Device?.Dispose();
        }
        queue.Clear();
        return totals;
    }

    /// <summary>Reads and reports whatever is queued (before the run stops mid-epoch).</summary>
    private EpochTotals Flush(List<QueuedStep> queue, EpochTotals totals, RunManifest manifest,
        IProgress<TrainProgress>? progress) =>
        queue.Count == 0 ? totals : Report(queue, ReadAll(queue, manifest), totals, progress);

    public void Dispose()
    {
        _graphed?.Dispose();
        Objective.Dispose();
    }

    /// <summary>One optimizer step's forward and backward: the batch to the device, augmented, then the
    /// objective (which accumulates the gradients). With a synthetic batch, the step's batch is the real images
    /// (augmented) followed by the synthetic ones (not augmented); a synthetic image's sample id is N_real + its index
    /// in the synthetic set, so its random draws never coincide with a real image's. Everything goes up before the
    /// objective runs, and nothing comes back: the labels the objective checks are the loader's host copy.</summary>
    private StepResult TrainStep(ImageBatch batch, ImageBatch? synthetic, int epoch, int index, long step)
    {
        var train = _data.Train;
        uint firstSample = (uint)((long)index * _config.BatchSize);
        int globalRows = batch.Count + (synthetic?.Count ?? 0);
        if (Parallel is { } parallel) (batch, synthetic, firstSample) = parallel.Shard(batch, synthetic, firstSample);
        int[] labelsHost = synthetic is null ? batch.Y : [.. batch.Y, .. synthetic.Y];
        int n = labelsHost.Length;
        using var x = synthetic is null
            ? Tensor.FromArray(_backend, batch.X, n, train.C, train.H, train.W)
            : Mixed(batch, synthetic, epoch, firstSample);
        using var labels = Tensor.FromArray(_backend, labelsHost, n);
        using var augmented = _config.Augmentation.Enabled && synthetic is null
            ? Tensor.Empty(_backend, DType.Float32, n, train.C, train.H, train.W)
            : null;
        if (augmented is not null)
            Ops.RandomCropFlip(x, augmented, _config.Augmentation.CropPad, _config.Augmentation.Flip, _config.Seed,
                (uint)epoch, firstSample);
        uint[] ids = synthetic is null
            ? batch.Indices.Select(i => (uint)i).ToArray()
            : [.. batch.Indices.Select(i => (uint)i), .. synthetic.Indices.Select(i => (uint)(train.N + i))];
        _sgd.ZeroGrad();
        var input = new TrainingBatch(augmented ?? x, labels, ids, epoch, step, _config.Seed)
        {
            HostLabels = labelsHost, GlobalRows = Parallel is null ? null : globalRows,
            GradientReady = Parallel?.BeginGradients(n, globalRows),
        };
        var result = Objective is IDeviceStatsObjective device
            ? new StepResult(null, device.StepOnDevice(_model, input))
            : new StepResult(Objective.Step(_model, input), null);
        Parallel?.ReduceGradients(n, globalRows);
        return result;
    }

    /// <summary>The stop request; in a data-parallel run, any rank's (so that every rank stops at the same step).</summary>
    private bool Cancelled(CancellationToken cancellation) =>
        Parallel?.AnyRank(cancellation.IsCancellationRequested) ?? cancellation.IsCancellationRequested;

    /// <summary>
    /// The mixed batch on the device: the real rows' crop and flip (the same op and keys as an unmixed step) followed
    /// by the synthetic rows as they are. The synthetic rows go up behind −0 placeholders for the real ones, the real
    /// rows go up on their own, are augmented there, and are added into their places (−0 + v = v exactly), so
    /// nothing makes a round trip through the host.
    /// </summary>
    private Tensor Mixed(ImageBatch real, ImageBatch synthetic, int epoch, uint firstSample)
    {
        var t = _data.Train;
        int nr = real.Count, n = nr + synthetic.Count, size = t.C * t.H * t.W;
        if (!_config.Augmentation.Enabled)
            return Tensor.FromArray(_backend, [.. real.X, .. synthetic.X], n, t.C, t.H, t.W);
        // The real rows are placeholders here: CopyRows overwrites them with the augmented real batch below.
        var host = new float[(long)n * size];
        synthetic.X.CopyTo(host.AsSpan(nr * size));
        var mixed = Tensor.FromArray(_backend, host, n, t.C, t.H, t.W);
        try
        {
            using var x = Tensor.FromArray(_backend, real.X, nr, t.C, t.H, t.W);
            using var y = Tensor.Empty(_backend, DType.Float32, nr, t.C, t.H, t.W);
            Ops.RandomCropFlip(x, y, _config.Augmentation.CropPad, _config.Augmentation.Flip, _config.Seed,
                (uint)epoch, firstSample);
            Ops.CopyRows(y, 0, mixed, 0, nr);
            return mixed;
        }
        catch
        {
            mixed.Dispose();
            throw;
        }
    }

    /// <summary>Evaluates, appends the metrics line, and writes best.safetensors when the PGD accuracy
    /// improved.</summary>
    private (EpochMetrics, TrainerState) EndEpoch(TrainerState state, IProgress<TrainProgress>? progress)
    {
        var totals = state.Partial;
        int epoch = state.Epoch + 1;
        var watch = Stopwatch.StartNew();
        var e = _config.Evaluation;
        var pgd = new Pgd(new PgdSettings(e.Norm == "l2" ? PgdNorm.L2 : PgdNorm.Linf, e.Eps, e.StepSize, e.Steps,
            RandomStart: true, Restarts: 1, Loss: AttackLossKind.CrossEntropy, Seed: _config.Seed));
        var evalProgress = progress is null ? null : new SyncProgress<EvaluationProgress>(p => progress.Report(
            new TrainProgress(epoch, _config.Epochs, BatchesPerEpoch, BatchesPerEpoch, state.Step, TotalSteps,
                totals.LossSum / totals.Count, (double)totals.Correct / totals.Count,
                totals.Count / Math.Max(totals.TrainSeconds, 1e-9), totals.LastLr, p)));
        var evaluation = new RobustEvaluation([pgd], e.BatchSize);
        var result = Parallel?.Evaluate(evaluation, _model, _data.Eval, evalProgress)
            ?? evaluation.Run(_model, _data.Eval, evalProgress);
        double evalSeconds = watch.Elapsed.TotalSeconds;
        bool best = result.RobustAccuracy > state.BestPgdAccuracy;
        var metrics = new EpochMetrics(epoch, state.Step, totals.LastLr, totals.LossSum / totals.Count,
            totals.ComponentSums.OrderBy(c => c.Key, StringComparer.Ordinal)
                .ToDictionary(c => c.Key, c => c.Value / totals.Count),
            (double)totals.Correct / totals.Count, (int)totals.Count, result.CleanAccuracy, result.RobustAccuracy,
            result.Samples, best, totals.TrainSeconds + evalSeconds, totals.TrainSeconds, evalSeconds,
            totals.Count / Math.Max(totals.TrainSeconds, 1e-9));
        if (best) Checkpoint.Save(_run.BestPath, _model, CheckpointMetadata(metrics));
        _run.Metrics.Append(metrics);
        var next = new TrainerState(epoch, 0, state.Step, best ? result.RobustAccuracy : state.BestPgdAccuracy,
            best ? epoch : state.BestEpoch, EpochTotals.Empty);
        return (metrics, next);
    }

    private TrainResult Stop(TrainerState state, RunManifest manifest, EpochMetrics? last)
    {
        SaveCheckpoint(state);
        _run.WriteManifest(manifest with { Status = "cancelled", EndTime = DateTimeOffset.Now });
        return new TrainResult(TrainStatus.Cancelled, state.Epoch, state.Step, state.BestPgdAccuracy,
            state.BestEpoch, last);
    }

    /// <summary>resume.safetensors first (the one file --resume reads), then last.safetensors for eval.</summary>
    private void SaveCheckpoint(TrainerState state)
    {
        ResumeState.Save(_run.ResumePath, _model, state);
        var meta = BaseMetadata();
        meta["epoch"] = Invariant(state.Epoch);
        meta["batches_done"] = Invariant(state.BatchesDone);
        meta["step"] = Invariant(state.Step);
        Checkpoint.Save(_run.LastPath, _model, meta);
    }

    private Dictionary<string, string> CheckpointMetadata(EpochMetrics m)
    {
        var meta = BaseMetadata();
        meta["epoch"] = Invariant(m.Epoch);
        meta["step"] = Invariant(m.Step);
        meta["clean_accuracy"] = Invariant(m.CleanAccuracy);
        meta["pgd_accuracy"] = Invariant(m.PgdAccuracy);
        return meta;
    }

    /// <summary>What <c>advrobust eval</c> needs besides the tensors: the architecture and normalization.</summary>
    private Dictionary<string, string> BaseMetadata() => new(StringComparer.Ordinal)
    {
        ["arch"] = _config.Model.Arch,
        ["normalize.mean"] = string.Join(",", _model.Normalize.Mean.Select(v => Invariant(v))),
        ["normalize.std"] = string.Join(",", _model.Normalize.Std.Select(v => Invariant(v))),
        ["objective"] = Objective.Name,
        ["seed"] = Invariant(_config.Seed),
    };

    private static bool IsFinite(StepStats stats) =>
        double.IsFinite(stats.Loss) && stats.Components.Values.All(double.IsFinite);

    private TrainingDivergedException Diverged(StepStats stats, int epoch, int index, long step)
    {
        string what = double.IsFinite(stats.Loss)
            ? "loss component " + string.Join(", ", stats.Components.Where(c => !double.IsFinite(c.Value))
                .Select(c => $"'{c.Key}' = {Invariant(c.Value)}"))
            : $"loss {Invariant(stats.Loss)}";
        string kept = _run.CanResume
            ? $"the last good checkpoint ({_run.ResumePath}, {_run.LastPath}) is left as it was"
            : "no checkpoint had been written yet";
        return new TrainingDivergedException(
            $"training diverged: {what} at epoch {epoch + 1}, step {step} (batch {index + 1} of {BatchesPerEpoch}); " +
            $"the step was not applied and {kept}", epoch + 1, step);
    }

    private static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
}
