using AdvRobust.Core.Autograd;
using AdvRobust.Core.Data;
using AdvRobust.Distributed;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training;

/// <summary>
/// One training step's input, already on the model's backend: <see cref="X"/> B×C×H×W pixels in [0,1] (augmented),
/// <see cref="Labels"/> B Int32, and <see cref="SampleIds"/> the B global sample indices (Philox keys). <see cref="Step"/>
/// is the global optimizer step (0-based) and <see cref="Seed"/> the run's seed, so every random draw of a step is a
/// pure function of (seed, step, sample ids): a resumed run draws exactly what an uninterrupted one does.
/// <see cref="HostLabels"/>, when set, are the same labels on the host (the loader's copy): an objective then checks
/// them without reading the device.
/// </summary>
public sealed record TrainingBatch(Tensor X, Tensor Labels, uint[] SampleIds, int Epoch, long Step, ulong Seed)
{
    public int[]? HostLabels { get; init; }

    /// <summary>The rows of the whole step's batch when this is one rank's shard of it (data-parallel training);
    /// null: this batch is the whole step. An objective that draws per step for the batch as a whole (TLA's negative
    /// pool) sizes its draw by it, so every rank draws what one process would.</summary>
    public int? GlobalRows { get; init; }

    /// <summary>Set on a data-parallel rank: the hook to pass to the step's one parameter-gradient backward pass
    /// (<see cref="Tape.Backward"/>), so that gradient buckets are all-reduced while backward still runs
    /// (<see cref="GradientAllReduce.BeginStep"/>). An objective that does not pass it is reduced after backward.</summary>
    public Action<Parameter>? GradientReady { get; init; }

    /// <summary>Set by the trainer's graphed step (<see cref="TrainStepGraph"/>): the step's per-call values on the
    /// device and where its statistics go, so the objective's device work reads them instead of host arguments.</summary>
    internal DeviceStepValues? Device { get; init; }
}

/// <summary>
/// A step's per-call values in device memory, written by non-blocking uploads before the step (so a captured step
/// replays with each step's values): <see cref="StepKey"/> = (StepRandom.StepKey(seed, step), 0, 0) for PGD's random
/// start, <see cref="EpochKey"/> = (seed, epoch, 0) for Gaussian noise, <see cref="SampleIds"/> the batch's global
/// sample ids (Int32 B), <see cref="Stats"/> the persistent slot the step's statistics are copied into, and
/// <see cref="Uploads"/> the tensors an objective fills from the host in its Prepare, before the step.
/// </summary>
internal sealed record DeviceStepValues(DeviceKey StepKey, DeviceKey EpochKey, Tensor SampleIds, StatsSlot Stats,
    StepUploads Uploads);

/// <summary>
/// Tensors that live across steps, filled from the host before each step (non-blocking uploads) by an objective's
/// <see cref="IDeviceStatsObjective.Prepare"/>, and read by its device step: one tensor per (name, shape), so a
/// graph captured for one shape keeps its addresses while another shape uses its own.
/// </summary>
internal sealed class StepUploads(IBackend backend) : IDisposable
{
    private readonly Dictionary<(string, string), Tensor> _tensors = new();

    /// <summary>Uploads <paramref name="data"/> into the (name, dims) tensor, allocating it on first use.</summary>
    public Tensor Put<T>(string name, T[] data, params int[] dims) where T : unmanaged
    {
        var key = (name, string.Join("x", dims));
        if (!_tensors.TryGetValue(key, out var t))
            _tensors[key] = t = Tensor.Empty(backend, DTypeExtensions.Of<T>(), dims);
        backend.CopyIn(t.Storage, (ReadOnlySpan<T>)data);
        return t;
    }

    /// <summary>The (name, dims) tensor last filled by <see cref="Put"/>.</summary>
    public Tensor Get(string name, params int[] dims) =>
        _tensors.TryGetValue((name, string.Join("x", dims)), out var t) ? t
            : throw new InvalidOperationException($"'{name}' ({string.Join("×", dims)}) was not uploaded before the step");

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
    }
}

/// <summary>
/// What one step reports: the total loss, its named parts (e.g. "ce", "triplet", "norm", "kl"), and how many of the
/// <see cref="Count"/> examples the loss was computed on (adversarial ones for PGD-AT and TLA, clean ones for
/// standard training and TRADES) the model classified correctly in that forward pass.
/// </summary>
public sealed record StepStats(double Loss, IReadOnlyDictionary<string, double> Components, int Correct, int Count);

/// <summary>
/// A training recipe (standard, PGD-AT, TRADES, TLA): given a batch, it computes the loss in train mode and
/// back-propagates it, so that every parameter's gradient is accumulated into <c>Parameter.Grad</c>. The caller zeroes
/// the gradients before and steps the optimizer after. An objective holds no state that changes from step to step
/// (everything random is keyed by <see cref="TrainingBatch.Seed"/>, <see cref="TrainingBatch.Step"/> and the sample
/// ids), leaves the model in train mode, and frees every intermediate before returning.
/// </summary>
public interface ITrainingObjective : IDisposable
{
    /// <summary>"standard", "pgd-at", "trades" or "tla".</summary>
    string Name { get; }

    /// <summary>The exact settings (a record that serializes to JSON), for the run manifest.</summary>
    object Settings { get; }

    StepStats Step(ImageClassifier model, TrainingBatch batch);
}

/// <summary>What an objective may need beyond the batch: the training set (TLA draws positives and its negative pool
/// from it) and the run's seed.</summary>
public sealed record ObjectiveContext(LabeledImages TrainSet, ulong Seed);
