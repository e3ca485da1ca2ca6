using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// One attack objective on one batch: the model, the loss, labels and targets of the rows being attacked. Each
/// <see cref="Pass"/> is one forward pass (and one backward pass to the input when a gradient is asked for) on a
/// fresh attack-mode tape that is disposed before it returns; only the input gradient and the device bookkeeping of a
/// <see cref="Track"/> leave it. Shape letters: x N×..., logits N×K.
/// </summary>
internal sealed class Objective
{
    private readonly Func<Tape, Variable, Variable> _loss;

    public Objective(Classifier model, AttackLossKind loss, Tensor labels, Tensor? targets)
        : this(model, (tape, logits) => AttackLoss.Compute(tape, loss, logits, labels, targets), labels, targets)
    {
    }

    /// <summary>
    /// An objective with its own loss of the logits: N per-sample values, or N×M terms whose row sums are the
    /// per-sample losses (the backward pass differentiates the total, which is the same either way).
    /// </summary>
    public Objective(Classifier model, Func<Tape, Variable, Variable> loss, Tensor labels, Tensor? targets)
    {
        Model = model;
        _loss = loss;
        Labels = labels;
        Targets = targets;
    }

    public Classifier Model { get; }
    public Tensor Labels { get; }
    public Tensor? Targets { get; }

    /// <summary>
    /// One forward pass at x, and a backward pass writing the loss gradient w.r.t. x into <paramref name="grad"/> if
    /// given; with <paramref name="track"/>, the per-sample loss and prediction update its device bookkeeping
    /// (<see cref="Ops.AttackTrack"/>). Nothing is read back to the host.
    /// </summary>
    public void Pass(Tensor x, Tensor? grad, Track? track = null) => Run(x, grad, (logits, loss) =>
    {
        if (track is { } t)
            Ops.AttackTrack(new AttackTrackParams(t.KeepHighestLoss), logits, loss, Labels, t.SuccessTargets, x,
                t.State);
        return 0;
    });

    /// <summary>The forward (and backward) pass on a tape; <paramref name="read"/> sees logits and loss before the
    /// tape is disposed.</summary>
    private T Run<T>(Tensor x, Tensor? grad, Func<Tensor, Tensor, T> read)
    {
        using var tape = new Tape(x.Backend, parameterGradients: false);
        var input = grad is null ? tape.Constant(x) : tape.Input(x);
        var output = Model.Forward(tape, input);
        var loss = _loss(tape, output.Logits);
        if (grad is not null)
        {
            tape.Backward(F.Sum(tape, loss));
            Ops.Copy(input.Grad ?? throw new InvalidOperationException("the attack loss does not depend on the input"),
                grad);
        }
        return read(output.Logits.Value, loss.Value);
    }

    /// <summary>Per-sample loss at x and success (prediction ≠ label, or = <paramref name="successTargets"/> when
    /// given), read to the host: for the start and the end of an attack, not for its steps.</summary>
    public (float[] Loss, bool[] Success) Measure(Tensor x, Tensor? successTargets)
    {
        using var state = new BestState(x.Backend, Rows.Count(x), like: null);
        Pass(x, null, new Track(state, successTargets, KeepHighestLoss: false));
        return (state.Current.ToArray(), state.ReadSuccess());
    }

    public static float[] Logits(Classifier model, Tensor x, out int classes) =>
        Predictions.Logits(model, x, out classes);

    public static int[] Argmax(float[] logits, int k) => Predictions.Argmax(logits, k);

    /// <summary>What <see cref="Pass"/> updates: a run's device state, the targets that define success (null:
    /// success = misclassification) and the Best rule.</summary>
    public readonly record struct Track(BestState State, Tensor? SuccessTargets, bool KeepHighestLoss);
}
