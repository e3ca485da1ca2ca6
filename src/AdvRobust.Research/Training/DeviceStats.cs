using AdvRobust.Core.Attacks;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training;

/// <summary>
/// One step's statistics still on the device: the loss and its named parts (one-element tensors) and the logits the
/// accuracy is counted on, copied out of the step's tape, plus the labels the host already has. Nothing is read until
/// <see cref="Read"/>, which the trainer calls once per <see cref="Trainer.StatsEvery"/> steps, so a step itself makes
/// no device→host copy. <see cref="Read"/> computes exactly what the step used to report: each scalar as its float
/// widened to double, and the correct count from the host argmax of the logits.
/// </summary>
internal sealed class PendingStats : IDisposable
{
    private readonly Tensor _loss;
    private readonly (string Name, Tensor Value)[] _parts;
    private readonly Tensor _logits;
    private readonly int[] _labels;

    private readonly bool _owned;

    public PendingStats(Tensor loss, IEnumerable<(string Name, Tensor Value)> parts, Tensor logits, int[] labels)
    {
        _loss = Owned(loss);
        _parts = parts.Select(p => (p.Name, Owned(p.Value))).ToArray();
        _logits = Owned(logits);
        _labels = labels;
        _owned = true;
    }

    /// <summary>Statistics held in a <see cref="StatsSlot"/>'s tensors (not owned: the slot outlives this).</summary>
    internal PendingStats(Tensor loss, (string Name, Tensor Value)[] parts, Tensor logits, int[] labels) =>
        (_loss, _parts, _logits, _labels) = (loss, parts, logits, labels);

    public StepStats Read() =>
        new(Scalar(_loss), _parts.ToDictionary(p => p.Name, p => Scalar(p.Value)),
            Predictions.Argmax(_logits).Where((pred, i) => pred == _labels[i]).Count(), _labels.Length);

    public void Dispose()
    {
        if (!_owned) return;
        _loss.Dispose();
        foreach (var (_, value) in _parts) value.Dispose();
        _logits.Dispose();
    }

    private static double Scalar(Tensor t) => t.ToArray()[0];

    /// <summary>A device copy that outlives the tape which owns <paramref name="t"/>.</summary>
    private static Tensor Owned(Tensor t)
    {
        var copy = Tensor.Empty(t.Backend, t.DType, t.Shape.Dims.ToArray());
        Ops.Copy(t, copy);
        return copy;
    }
}

/// <summary>An objective whose step leaves its statistics on the device (every built-in one): the trainer reads
/// them in batches of steps instead of synchronizing after each.</summary>
internal interface IDeviceStatsObjective : ITrainingObjective
{
    /// <summary>The host half of a graphed step, run before the step (captured or replayed): draws that need the host,
    /// uploaded into <see cref="DeviceStepValues.Uploads"/> for the device step to read. Called only with
    /// <see cref="TrainingBatch.Device"/> set.</summary>
    void Prepare(ImageClassifier model, TrainingBatch batch)
    {
    }

    /// <summary>What else, besides the batch shape, the captured step's work depends on (null: nothing).</summary>
    object? GraphKey(TrainingBatch batch) => null;

    PendingStats StepOnDevice(ImageClassifier model, TrainingBatch batch);
}

/// <summary>
/// Persistent tensors one step's statistics are copied into, so that a step captured as a graph writes them at the
/// same addresses every replay (tensors created inside a captured step cannot outlive it). The trainer keeps one slot
/// per queued step and shape (a ring of <see cref="Trainer.StatsEvery"/> slots), and reads a slot before the step that
/// reuses it. The tensors are allocated on the first (eager) write; later writes are device copies only.
/// </summary>
internal sealed class StatsSlot : IDisposable
{
    private Tensor? _loss, _logits;
    private (string Name, Tensor Value)[] _parts = [];

    public void Write(Tensor loss, IEnumerable<(string Name, Tensor Value)> parts, Tensor logits)
    {
        var list = parts.ToArray();
        if (_loss is null || _logits is null)
        {
            _loss = Like(loss);
            _parts = list.Select(p => (p.Name, Like(p.Value))).ToArray();
            _logits = Like(logits);
        }
        if (_parts.Length != list.Length || _logits.Shape != logits.Shape)
            throw new InvalidOperationException("a statistics slot was reused for a step of another shape");
        Ops.Copy(loss, _loss);
        for (int i = 0; i < list.Length; i++) Ops.Copy(list[i].Value, _parts[i].Value);
        Ops.Copy(logits, _logits);
    }

    /// <summary>The last written statistics, read later through <see cref="PendingStats.Read"/>.</summary>
    public PendingStats Pending(int[] labels) =>
        _loss is null || _logits is null
            ? throw new InvalidOperationException("the statistics slot was never written")
            : new PendingStats(_loss, _parts, _logits, labels);

    public void Dispose()
    {
        _loss?.Dispose();
        _logits?.Dispose();
        foreach (var (_, t) in _parts) t.Dispose();
    }

    private static Tensor Like(Tensor t) => Tensor.Empty(t.Backend, t.DType, t.Shape.Dims.ToArray());
}
