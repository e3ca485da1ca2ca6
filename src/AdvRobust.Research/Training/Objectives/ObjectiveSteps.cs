using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// One objective's training-mode loss on a tape: the scalar to back-propagate, the logits whose predictions the step
/// reports, and the named parts of the loss (<see cref="StepStats.Components"/>).
/// </summary>
internal sealed record LossTerms(Variable Loss, Variable Logits, IReadOnlyList<(string Name, Variable Value)> Parts)
{
    /// <summary>The statistics, read to the host now (tests; the trainer reads <see cref="Pending"/> later).</summary>
    public StepStats Stats(int[] labels)
    {
        using var pending = Pending(labels);
        return pending.Read();
    }

    /// <summary>The statistics copied out of the tape and left on the device (into <paramref name="slot"/> when
    /// given: the graphed trainer step's persistent tensors).</summary>
    public PendingStats Pending(int[] labels, StatsSlot? slot = null)
    {
        if (slot is null) return new(Loss.Value, Parts.Select(p => (p.Name, p.Value.Value)), Logits.Value, labels);
        slot.Write(Loss.Value, Parts.Select(p => (p.Name, p.Value.Value)), Logits.Value);
        return slot.Pending(labels);
    }
}

/// <summary>What the objectives share: checking a batch, the train-mode step, and images from a data set.
/// Shape letters: B batch, C×H×W image, K classes.</summary>
internal static class ObjectiveSteps
{
    /// <summary>Checks <paramref name="batch"/> against the model and returns its labels on the host: the batch's
    /// <see cref="TrainingBatch.HostLabels"/> when it has them (the trainer's batches do), else read from the device.
    /// </summary>
    public static int[] Check(string objective, ImageClassifier model, TrainingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        var x = batch.X;
        int[] shape = model.InputShape;
        if (x.DType != DType.Float32 || x.Rank != 4 || x.Shape[0] < 1 || x.Shape[1] != shape[0] ||
            x.Shape[2] != shape[1] || x.Shape[3] != shape[2])
            throw new ArgumentException(
                $"{objective}: the batch must be Float32 B×{string.Join("×", shape)} with B >= 1, got {x}");
        int b = x.Shape[0];
        if (batch.Labels.DType != DType.Int32 || batch.Labels.Shape != new Shape(b))
            throw new ArgumentException($"{objective}: labels must be Int32 [{b}], got {batch.Labels}");
        if (batch.SampleIds.Length != b)
            throw new ArgumentException($"{objective}: {batch.SampleIds.Length} sample ids for a batch of {b}");
        int[] labels = batch.HostLabels ?? batch.Labels.ToArray<int>();
        if (labels.Length != b)
            throw new ArgumentException($"{objective}: {labels.Length} host labels for a batch of {b}");
        for (int i = 0; i < b; i++)
            if ((uint)labels[i] >= (uint)model.Classes)
                throw new ArgumentException(
                    $"{objective}: label {labels[i]} of row {i} is outside the model's {model.Classes} classes");
        return labels;
    }

    /// <summary>
    /// The training half of a step: the model in train mode, one tape, <paramref name="forward"/> builds the loss,
    /// the backward pass accumulates every parameter's gradient (reporting each final one to the batch's
    /// <see cref="TrainingBatch.GradientReady"/>), and the tape frees every intermediate.
    /// </summary>
    public static PendingStats Train(ImageClassifier model, TrainingBatch batch, int[] labels,
        Func<Tape, LossTerms> forward)
    {
        model.Train();
        using var tape = new Tape(batch.X.Backend);
        var terms = forward(tape);
        tape.Backward(terms.Loss, batch.GradientReady);
        return terms.Pending(labels, batch.Device?.Stats);
    }

    /// <summary>A step with its statistics read to the host at once (<see cref="ITrainingObjective.Step"/>).</summary>
    public static StepStats ReadNow(PendingStats pending)
    {
        using (pending) return pending.Read();
    }

    /// <summary>Mean softmax cross-entropy of a train-mode forward pass on <paramref name="x"/>.</summary>
    public static LossTerms CrossEntropy(Tape tape, ImageClassifier model, Tensor x, Tensor labels, float smoothing)
    {
        var logits = model.Forward(tape, tape.Constant(x)).Logits;
        var ce = F.Mean(tape, F.CrossEntropy(tape, logits, labels, smoothing));
        return new LossTerms(ce, logits, [("ce", ce)]);
    }

    /// <summary>The logits (B×K) of <paramref name="x"/> in the model's current mode, from a forward pass that records
    /// no gradient, copied out of its tape (owned by the caller).</summary>
    public static Tensor Logits(ImageClassifier model, Tensor x) => Detached(model, x, o => o.Logits);

    /// <summary>The embeddings (B×D) of <paramref name="x"/>, as <see cref="Logits"/>.</summary>
    public static Tensor Embed(ImageClassifier model, Tensor x) => Detached(model, x, o => o.Embedding);

    private static Tensor Detached(ImageClassifier model, Tensor x, Func<AdvRobust.Core.Nn.ModelOutput, Variable> pick)
    {
        using var tape = new Tape(x.Backend, parameterGradients: false);
        var value = pick(model.Forward(tape, tape.Constant(x))).Value;
        var copy = Tensor.Empty(x.Backend, DType.Float32, value.Shape.Dims.ToArray());
        Ops.Copy(value, copy);
        return copy;
    }

    /// <summary>The images of <paramref name="data"/> at <paramref name="indices"/>, as an N×C×H×W tensor.</summary>
    public static Tensor Images(IBackend backend, LabeledImages data, int[] indices)
    {
        int size = data.SampleSize;
        var host = new float[(long)indices.Length * size];
        for (int k = 0; k < indices.Length; k++) data.Image(indices[k]).CopyTo(host.AsSpan(k * size, size));
        return Tensor.FromArray(backend, host, indices.Length, data.C, data.H, data.W);
    }

    /// <summary>The PGD adversarial batch (keyed by the step), attacking in eval mode unless told otherwise.</summary>
    public static Tensor PgdAdversarial(ImageClassifier model, TrainingBatch batch, PgdNorm norm, float eps,
        float stepSize, int steps, bool randomStart, bool trainMode)
    {
        // KeepHighestLoss: every sample keeps its strongest iterate, fooled or not (an evaluation would stop a sample
        // at its first success, a weak example to train on). The step key as seed gives each step a fresh start.
        var pgd = new Pgd(new PgdSettings(norm, eps, stepSize, steps, randomStart, KeepHighestLoss: true,
            Seed: StepRandom.StepKey(batch.Seed, batch.Step), KeepTrainingMode: trainMode));
        if (trainMode) model.Train();
        var start = batch.Device is { } d ? new DeviceStart(d.StepKey, d.SampleIds) : null;
        return pgd.RunOnDevice(model, batch.X, batch.Labels, batch.SampleIds, start);
    }
}
