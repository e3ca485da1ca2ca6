using AdvRobust.Core.Data;
using AdvRobust.Core.Graphs;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Research.Training.Objectives;

namespace AdvRobust.Research.Training;

/// <summary>
/// The trainer's step for the built-in objectives, as two recorded graphs (<see cref="StepGraph"/>): the step proper
/// (zero the gradients, augment or mix, the objective's attack, forward and backward, the statistics copied into a
/// slot) and the SGD update. On CUDA with graphs on, each is captured on its second call and then replayed with one
/// cuGraphLaunch; elsewhere both run eagerly, on the same buffers and ops, so results are the same bit for bit.
/// <para>
/// Nothing a replay reads is a kernel argument that changes: the batch goes into input tensors that live as long as
/// this object (one set per shape: the last, short batch of an epoch gets its own), the per-step values go into small
/// device tensors (the augmentation key (seed, epoch, first sample), PGD's random-start key (step key), the noise key
/// (seed, epoch), the sample ids, the learning rate) read by the keyed ops, all written by non-blocking uploads before
/// the launch. The statistics go into a ring of <see cref="StatsSlot"/>s, one per queued step (the trainer reads them
/// every StatsEvery steps), so there is one step graph per (shape, slot). The update is its own graph because the
/// trainer checks a step's statistics (divergence) before applying it when it reads them.
/// </para>
/// An objective that draws on the host (TRADES' start noise, TLA's pool, pool labels and positives) does so in its
/// <see cref="IDeviceStatsObjective.Prepare"/>, before the launch, uploading what it drew into <see cref="StepUploads"/>;
/// what else its captured work depends on (TLA: how many rows have a negative) keys its graph
/// (<see cref="IDeviceStatsObjective.GraphKey"/>).
/// After a replay the model's state was written by the graph: <see cref="Module.MarkStateWritten"/> keeps version-keyed
/// caches (eval-mode batch norm) correct.
/// </summary>
internal sealed class TrainStepGraph : IDisposable
{
    private readonly IBackend _backend;
    private readonly ImageClassifier _model;
    private readonly Sgd _sgd;
    private readonly IDeviceStatsObjective _objective;
    private readonly TrainConfig _config;
    private readonly LabeledImages _train;
    private readonly StepGraph _step, _update;
    private readonly DeviceKey _augmentKey, _stepKey, _epochKey;
    private readonly Tensor _lr;
    private readonly StepUploads _uploads;
    private readonly Dictionary<(int N, int Real), Inputs> _inputs = new();
    private readonly Dictionary<(int N, int Real, int Slot), StatsSlot> _slots = new();

    public TrainStepGraph(ImageClassifier model, Sgd sgd, IDeviceStatsObjective objective, TrainConfig config,
        LabeledImages train, Action<string>? report)
    {
        (_model, _sgd, _objective, _config, _train) = (model, sgd, objective, config, train);
        _backend = model.Parameters().First().Value.Backend;
        _step = new StepGraph(_backend, "training step");
        _update = new StepGraph(_backend, "SGD update");
        if (report is not null) _step.Report = _update.Report = report;
        // a refused capture may have run host code that assumed its device work happened (a cache's version stamp)
        _step.Refused = _update.Refused = _model.MarkStateWritten;
        _augmentKey = new DeviceKey(_backend);
        _stepKey = new DeviceKey(_backend);
        _epochKey = new DeviceKey(_backend);
        _lr = Tensor.Zeros(_backend, 1);
        _uploads = new StepUploads(_backend);
    }

    /// <summary>Graph launches and eager runs so far, of the step and of the update (tests, reports).</summary>
    public (StepGraph Step, StepGraph Update) Graphs => (_step, _update);

    /// <summary>
    /// Uploads the batch (and synthetic batch) and the step's keys, then runs the step through its graph for
    /// (shape, <paramref name="slot"/>). Returns the statistics, left on the device in slot <paramref name="slot"/>
    /// until read (the caller reads them before slot is used again).
    /// </summary>
    public PendingStats Step(ImageBatch batch, ImageBatch? synthetic, int epoch, int index, long step, int slot)
    {
        var t = _train;
        uint firstSample = (uint)((long)index * _config.BatchSize);
        int[] labelsHost = synthetic is null ? batch.Y : [.. batch.Y, .. synthetic.Y];
        uint[] ids = synthetic is null
            ? batch.Indices.Select(i => (uint)i).ToArray()
            : [.. batch.Indices.Select(i => (uint)i), .. synthetic.Indices.Select(i => (uint)(t.N + i))];
        int n = labelsHost.Length, real = synthetic is null ? 0 : batch.Count;
        var inputs = Upload(batch, synthetic, labelsHost, ids);
        _augmentKey.Set(_config.Seed, (uint)epoch, firstSample);
        _stepKey.Set(StepRandom.StepKey(_config.Seed, step));
        _epochKey.Set(_config.Seed, (uint)epoch);
        if (!_slots.TryGetValue((n, real, slot), out var stats)) _slots[(n, real, slot)] = stats = new StatsSlot();
        var input = new TrainingBatch(inputs.Augmented ?? inputs.X, inputs.Labels, ids, epoch, step, _config.Seed)
        {
            HostLabels = labelsHost,
            Device = new DeviceStepValues(_stepKey, _epochKey, inputs.Ids, stats, _uploads),
        };
        _objective.Prepare(_model, input);
        void Run()
        {
            _sgd.ZeroGrad();
            Augment(inputs);
            _objective.StepOnDevice(_model, input);
        }
        Replaying(_step, (n, real, slot, _objective.GraphKey(input)), Run);
        return stats.Pending(labelsHost);
    }

    /// <summary>The SGD update at the schedule's current learning rate, then the iteration count moves on.</summary>
    public void Update()
    {
        float lr = _sgd.LearningRate;
        _backend.CopyIn(_lr.Storage, (ReadOnlySpan<float>)[lr]);
        Replaying(_update, string.Empty, () => _sgd.Update(_lr));
        _sgd.Advance();
    }

    private void Replaying(StepGraph graph, object key, Action run)
    {
        int replays = graph.Replays;
        graph.Run(key, run);
        if (graph.Replays != replays) _model.MarkStateWritten();
    }

    /// <summary>The real rows' crop and flip (unmixed: into Augmented; mixed: copied over the placeholder rows).</summary>
    private void Augment(Inputs inputs)
    {
        var a = _config.Augmentation;
        if (!a.Enabled) return;
        if (inputs.Real is null)
            Ops.RandomCropFlip(inputs.X, inputs.Augmented!, a.CropPad, a.Flip, _augmentKey);
        else
        {
            Ops.RandomCropFlip(inputs.Real, inputs.RealAugmented!, a.CropPad, a.Flip, _augmentKey);
            Ops.CopyRows(inputs.RealAugmented!, 0, inputs.X, 0, inputs.Real.Shape[0]);
        }
    }

    /// <summary>
    /// The batch into this shape's input tensors. Unmixed: the pixels into X. Mixed without augmentation: real then
    /// synthetic pixels into X. Mixed with augmentation: the real pixels into Real, and X gets zeros in the real rows
    /// (overwritten by the augmented ones in the step) followed by the synthetic pixels.
    /// </summary>
    private Inputs Upload(ImageBatch batch, ImageBatch? synthetic, int[] labels, uint[] ids)
    {
        var t = _train;
        int n = labels.Length, size = t.C * t.H * t.W;
        bool augment = _config.Augmentation.Enabled;
        int real = synthetic is null ? 0 : batch.Count;
        if (!_inputs.TryGetValue((n, real), out var inputs))
            _inputs[(n, real)] = inputs = new Inputs(_backend, n, t.C, t.H, t.W, real, augment);
        if (synthetic is null) _backend.CopyIn(inputs.X.Storage, (ReadOnlySpan<float>)batch.X);
        else if (!augment) _backend.CopyIn(inputs.X.Storage, (ReadOnlySpan<float>)[.. batch.X, .. synthetic.X]);
        else
        {
            var host = new float[(long)n * size];
            synthetic.X.CopyTo(host.AsSpan(real * size));
            _backend.CopyIn(inputs.X.Storage, (ReadOnlySpan<float>)host);
            _backend.CopyIn(inputs.Real!.Storage, (ReadOnlySpan<float>)batch.X);
        }
        _backend.CopyIn(inputs.Labels.Storage, (ReadOnlySpan<int>)labels);
        _backend.CopyIn(inputs.Ids.Storage, (ReadOnlySpan<int>)ids.Select(i => unchecked((int)i)).ToArray());
        return inputs;
    }

    public void Dispose()
    {
        _step.Dispose();
        _update.Dispose();
        foreach (var i in _inputs.Values) i.Dispose();
        foreach (var s in _slots.Values) s.Dispose();
        _augmentKey.Dispose();
        _stepKey.Dispose();
        _epochKey.Dispose();
        _lr.Dispose();
        _uploads.Dispose();
    }

    /// <summary>One shape's input tensors (see <see cref="Upload"/>).</summary>
    private sealed class Inputs : IDisposable
    {
        public Inputs(IBackend backend, int n, int c, int h, int w, int real, bool augment)
        {
            X = Tensor.Empty(backend, DType.Float32, n, c, h, w);
            Labels = Tensor.Empty(backend, DType.Int32, n);
            Ids = Tensor.Empty(backend, DType.Int32, n);
            if (augment && real == 0) Augmented = Tensor.Empty(backend, DType.Float32, n, c, h, w);
            if (augment && real > 0)
            {
                Real = Tensor.Empty(backend, DType.Float32, real, c, h, w);
                RealAugmented = Tensor.Empty(backend, DType.Float32, real, c, h, w);
            }
        }

        public Tensor X { get; }
        public Tensor Labels { get; }
        public Tensor Ids { get; }
        public Tensor? Augmented { get; }
        public Tensor? Real { get; }
        public Tensor? RealAugmented { get; }

        public void Dispose()
        {
            X.Dispose();
            Labels.Dispose();
            Ids.Dispose();
            Augmented?.Dispose();
            Real?.Dispose();
            RealAugmented?.Dispose();
        }
    }
}
