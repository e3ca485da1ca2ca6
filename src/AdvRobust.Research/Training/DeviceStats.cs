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

    public PendingStats(Tensor loss, IEnumerable<(string Name, Tensor Value)> parts, Tensor logits, int[] labels)
    {
        _loss = Owned(loss);
        _parts = parts.Select(p => (p.Name, Owned(p.Value))).ToArray();
        _logits = Owned(logits);
        _labels = labels;
    }

    public StepStats Read() =>
        new(Scalar(_loss), _parts.ToDictionary(p => p.Name, p => Scalar(p.Value)),
            Predictions.Argmax(_logits).Where((pred, i) => pred == _labels[i]).Count(), _labels.Length);

    public void Dispose()
    {
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
    PendingStats StepOnDevice(ImageClassifier model, TrainingBatch batch);
}
