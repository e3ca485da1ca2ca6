using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Distributed;

namespace AdvRobust.Research.Training;

/// <summary>
/// What a <see cref="Trainer"/> does differently as one rank of a data-parallel run (<c>mpirun -n K advrobust
/// train</c>); the trainer calls these hooks and is otherwise unchanged.
///
/// Every rank loads the same data and draws the same global batch of B samples (the shuffle is a function of the
/// seed and epoch); rank r keeps rows [start_r, start_r + b_r) of it (<see cref="Shards"/>), under their global
/// sample ids and batch positions, so its crops, flips, random starts and noise are the ones a single process draws
/// for those rows. Each rank attacks and back-propagates its shard; <see cref="GradientAllReduce"/>, its buckets started
/// from backward as their gradients become final (<see cref="BeginGradients"/>) and completed after it, makes every
/// gradient Σ_r (b_r/B)·g_r, the global batch's mean gradient (every objective's loss is a mean over its rows), and
/// every rank takes the same SGD step. The step's statistics are combined the same way (loss and its parts weighted by
/// rows, correct and row counts summed), so the metrics are the global batch's.
///
/// Replicas: rank 0's parameters, momentum and buffers are broadcast at the start (and on resume); batch-norm
/// layers normalize with each rank's own shard statistics (per-rank BN, not synchronized), and rank 0's running
/// statistics are broadcast after every step, as PyTorch's DDP does; with syncBatchNorm they normalize with the global
/// batch's statistics instead (<see cref="BatchNormSync"/>, two small all-reduces per layer per forward and backward)
/// and every rank computes the same running statistics; every <see cref="CheckEvery"/> steps a hash of
/// every tensor is compared with rank 0's (<see cref="ReplicaState.Check"/>). The end-of-epoch evaluation is sharded
/// (<see cref="ShardedEvaluation"/>), so every rank holds its result.
///
/// Equivalence with one process: for a model without batch norm the K-rank run computes the same samples, draws and
/// per-sample losses; only the summation order of the gradient and of the statistics differs (within float
/// tolerance). With per-rank batch norm the shard statistics differ from the batch's, so it is a different (the usual
/// DDP) run; with synchronized batch norm it is again the single process's run within float tolerance.
/// </summary>
public sealed class DataParallel
{
    private readonly ReplicaState _replicas;
    private readonly GradientAllReduce _gradients;

    /// <param name="fixedOrder">Sum the gradients in rank order on rank 0 (<see cref="GradientAllReduce.FixedOrder"/>).</param>
    /// <param name="device">Device collectives (NCCL on CUDA ranks): gradients are reduced and the state broadcast on
    /// the device; null reduces through the host over MPI.</param>
    /// <param name="syncBatchNorm">Normalize with the global batch's statistics (<see cref="BatchNormSync"/>).</param>
    /// <param name="overlap">All-reduce gradient buckets while backward runs (<see cref="GradientAllReduce.Overlap"/>);
    /// false: after backward.</param>
    public DataParallel(ICommunicator world, Module model, int checkEvery = 50, int bucketBytes = 4 << 20,
        bool fixedOrder = false, IDeviceCollectives? device = null, bool syncBatchNorm = false, bool overlap = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(checkEvery, 1);
        (World, CheckEvery) = (world, checkEvery);
        if (syncBatchNorm) SyncedBatchNormLayers = BatchNormSync.Attach(world, model);
        _replicas = new ReplicaState(world, model) { Device = device };
        _gradients = new GradientAllReduce(world, model.Parameters(), bucketBytes)
        {
            FixedOrder = fixedOrder,
            Device = fixedOrder ? null : device,
            Overlap = overlap,
        };
    }

    public ICommunicator World { get; }

    /// <summary>Steps between two replica hash checks.</summary>
    public int CheckEvery { get; }

    public GradientAllReduce Gradients => _gradients;

    /// <summary>Batch-norm layers that normalize with the global batch's statistics (0: per-rank batch norm).</summary>
    public int SyncedBatchNormLayers { get; }

    /// <summary>Rank 0's state to every rank, before the first step (new or resumed run).</summary>
    public void Start() => _replicas.Broadcast();

    /// <summary>This rank's rows of a global batch: the real rows and the synthetic rows are each split, and
    /// <paramref name="firstSample"/> (the batch's first position in the epoch order) moves to the shard's first.</summary>
    public (ImageBatch Real, ImageBatch? Synthetic, uint FirstSample) Shard(ImageBatch real, ImageBatch? synthetic,
        uint firstSample)
    {
        var (start, _) = Shards.Of(real.Count, World);
        return (Rows(real), synthetic is null ? null : Rows(synthetic), firstSample + (uint)start);
    }

    private ImageBatch Rows(ImageBatch batch)
    {
        var (start, count) = Shards.Of(batch.Count, World);
        int size = batch.X.Length / Math.Max(batch.Count, 1);
        return new ImageBatch(batch.X[(start * size)..((start + count) * size)], batch.Y[start..(start + count)],
            batch.Indices[start..(start + count)]);
    }

    /// <summary>Opens the reduction of a step whose global batch has <paramref name="globalRows"/> rows of which this
    /// rank computes <paramref name="rows"/>: the hook for its backward pass (<see cref="TrainingBatch.GradientReady"/>),
    /// which starts each gradient bucket's all-reduce as soon as backward has finished it; null when the reduction
    /// runs after backward (fixed order, overlap off, one rank). <see cref="ReduceGradients"/> completes it.</summary>
    public Action<Parameter>? BeginGradients(int rows, int globalRows) =>
        _gradients.BeginStep((float)rows / globalRows);

    /// <summary>Averages the gradients of a step whose global batch had <paramref name="globalRows"/> rows of which this
    /// rank computed <paramref name="rows"/> (after <see cref="BeginGradients"/>: waits for what backward started).</summary>
    public void ReduceGradients(int rows, int globalRows) => _gradients.Run((float)rows / globalRows);

    /// <summary>True on every rank when <paramref name="mine"/> is true on any.</summary>
    public bool AnyRank(bool mine)
    {
        Span<int> flag = [mine ? 1 : 0];
        World.AllReduceMax(flag);
        return flag[0] != 0;
    }

    /// <summary>The global batch's statistics from each rank's.</summary>
    public StepStats Combine(StepStats mine)
    {
        var names = mine.Components.Keys.Order(StringComparer.Ordinal).ToArray();
        var sums = new double[names.Length + 3];
        sums[0] = mine.Loss * mine.Count;
        for (int i = 0; i < names.Length; i++) sums[i + 1] = mine.Components[names[i]] * mine.Count;
        (sums[^2], sums[^1]) = (mine.Correct, mine.Count);
        World.AllReduceSum<double>(sums);
        double n = sums[^1];
        return new StepStats(sums[0] / n, names.Select((k, i) => (k, sums[i + 1] / n)).ToDictionary(),
            (int)sums[^2], (int)n);
    }

    /// <summary>After the optimizer step <paramref name="step"/> (0-based): rank 0's buffers to every rank, and every
    /// <see cref="CheckEvery"/> steps the replica check.</summary>
    public void AfterStep(long step)
    {
        _replicas.Broadcast(buffersOnly: true);
        if ((step + 1) % CheckEvery == 0) _replicas.Check(step + 1);
    }

    public EvaluationResult Evaluate(RobustEvaluation evaluation, ImageClassifier model, LabeledImages data,
        IProgress<EvaluationProgress>? progress) => ShardedEvaluation.Run(evaluation, model, data, World, progress);
}
