using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

// Shape letters: logits N×K (K classes), labels N (Int32), embeddings N×D.
public static partial class F
{
    /// <summary>Per-sample softmax cross-entropy (N), with optional label smoothing.</summary>
    public static Variable CrossEntropy(Tape tape, Variable logits, Tensor labels, float labelSmoothing = 0f)
    {
        var loss = tape.Empty(logits.Shape[0]);
        var probs = tape.Empty(logits.Shape.Dims.ToArray());
        Ops.SoftmaxCrossEntropy(logits.Value, labels, labelSmoothing, loss, probs);
        return tape.Record(OpKind.CrossEntropy, loss, (labels, labelSmoothing), [logits], probs);
    }

    public static Variable LogSoftmax(Tape tape, Variable x)
    {
        var y = tape.Empty(x.Shape.Dims.ToArray());
        Ops.LogSoftmax(x.Value, y);
        return tape.Record(OpKind.LogSoftmax, y, null, [x]);
    }

    /// <summary>
    /// TRADES' KL(softmax(p) ‖ softmax(q)) summed over classes and averaged over the batch (PyTorch's
    /// kl_div(log_softmax(q), softmax(p), reduction="batchmean")), composed from log-softmax and elementwise ops so
    /// the gradient flows to both logits.
    /// </summary>
    public static Variable KlDivergence(Tape tape, Variable logitsP, Variable logitsQ)
    {
        var logP = LogSoftmax(tape, logitsP);
        var logQ = LogSoftmax(tape, logitsQ);
        var terms = Mul(tape, Unary(tape, UnaryOp.Exp, logP), Sub(tape, logP, logQ));
        return Scale(tape, Sum(tape, terms), 1f / Math.Max(logitsP.Shape[0], 1));
    }

    /// <summary>Per-sample margin loss (CW, DLR, targeted DLR) an attacker maximizes.</summary>
    public static Variable Margin(Tape tape, MarginKind kind, Variable logits, Tensor labels, Tensor? targets = null)
    {
        var loss = tape.Empty(logits.Shape[0]);
        Ops.MarginLoss(kind, logits.Value, labels, targets, loss);
        return tape.Record(OpKind.Margin, loss, (kind, labels, targets), [logits]);
    }

    public static Variable PairwiseDistance(Tape tape, DistanceKind kind, Variable a, Variable b)
    {
        var d = tape.Empty(a.Shape[0], b.Shape[0]);
        Ops.PairwiseDistance(kind, a.Value, b.Value, d);
        return tape.Record(OpKind.PairwiseDistance, d, kind, [a, b]);
    }

    /// <summary>Per-row triplet margin loss max(0, d(a,p) − d(a,n) + margin) for row-aligned N×D variables.</summary>
    public static Variable TripletLoss(Tape tape, DistanceKind kind, float margin, Variable a, Variable p, Variable n)
    {
        var loss = tape.Empty(a.Shape[0]);
        Ops.TripletLoss(kind, margin, a.Value, p.Value, n.Value, loss);
        return tape.Record(OpKind.TripletLoss, loss, (kind, margin), [a, p, n]);
    }
}
