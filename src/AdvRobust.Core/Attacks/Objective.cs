using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// One attack objective on one batch: the model, the loss, labels and targets of the rows being attacked. Each
/// <see cref="Evaluate"/> is one forward pass (and one backward pass to the input when a gradient is asked for) on a
/// fresh attack-mode tape that is disposed before it returns; only the per-sample loss, the predictions and the input
/// gradient leave it. Shape letters: x N×..., logits N×K.
/// </summary>
internal sealed class Objective
{
    private readonly Classifier _model;
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
        _model = model;
        _loss = loss;
        Labels = labels;
        Targets = targets;
    }

    public Tensor Labels { get; }
    public Tensor? Targets { get; }

    /// <summary>Per-sample loss and predicted class at x; the loss gradient w.r.t. x into
    /// <paramref name="grad"/> if given.</summary>
    public (float[] Loss, int[] Pred) Evaluate(Tensor x, Tensor? grad = null)
    {
        var backend = x.Backend;
        using var tape = new Tape(backend, parameterGradients: false);
        var input = grad is null ? tape.Constant(x) : tape.Input(x);
        var output = _model.Forward(tape, input);
        var loss = _loss(tape, output.Logits);
        if (grad is not null)
        {
            tape.Backward(F.Sum(tape, loss));
            Ops.Copy(input.Grad ?? throw new InvalidOperationException("the attack loss does not depend on the input"),
                grad);
        }
        return (RowSums(loss.Value.ToArray(), Rows.Count(x)), Argmax(output.Logits.Value));
    }

    /// <summary>The n row sums of n×m values, left to right (the values themselves when m = 1).</summary>
    private static float[] RowSums(float[] values, int n)
    {
        if (values.Length == n) return values;
        if (n == 0 || values.Length % n != 0)
            throw new InvalidOperationException($"an attack loss of {values.Length} values for {n} samples");
        int m = values.Length / n;
        var sums = new float[n];
        for (int i = 0; i < n; i++)
        {
            float s = 0f;
            for (int j = 0; j < m; j++) s += values[i * m + j];
            sums[i] = s;
        }
        return sums;
    }

    public static float[] Logits(Classifier model, Tensor x, out int classes) =>
        Predictions.Logits(model, x, out classes);

    public static int[] Argmax(Tensor logits) => Predictions.Argmax(logits);

    public static int[] Argmax(float[] logits, int k) => Predictions.Argmax(logits, k);

    /// <summary>Success per sample: prediction ≠ label, or = target when <paramref name="targets"/> is given.</summary>
    public static bool[] Success(int[] pred, int[] labels, int[]? targets)
    {
        var ok = new bool[pred.Length];
        for (int i = 0; i < ok.Length; i++) ok[i] = targets is null ? pred[i] != labels[i] : pred[i] == targets[i];
        return ok;
    }
}
