using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

// Shape letters: x N×C×H×W, w K×C×R×S.
public static partial class F
{
    public static Variable Conv2d(Tape tape, Variable x, Variable w, ConvParams p)
    {
        var y = tape.Own(Tensor.Empty(tape.Backend, DType.Float32, Ops.Conv2dOutputShape(p, x.Shape, w.Shape).Dims.ToArray()));
        Ops.Conv2dForward(p, x.Value, w.Value, y);
        return tape.Record(OpKind.Conv2d, y, p, [x, w]);
    }

    public static Variable Pool2d(Tape tape, Variable x, PoolParams p)
    {
        var y = tape.Own(Tensor.Empty(tape.Backend, DType.Float32, Ops.Pool2dOutputShape(p, x.Shape).Dims.ToArray()));
        Ops.Pool2dForward(p, x.Value, y);
        return tape.Record(OpKind.Pool2d, y, p, [x]);
    }

    /// <summary>N×C×H×W → N×C by averaging each H×W plane (square planes).</summary>
    public static Variable GlobalAvgPool(Tape tape, Variable x)
    {
        if (x.Shape[2] != x.Shape[3]) throw new ArgumentException($"GlobalAvgPool needs square planes, got {x.Shape}");
        var pooled = Pool2d(tape, x, new PoolParams(PoolKind.Avg, x.Shape[2], x.Shape[2]));
        return View(tape, pooled, x.Shape[0], x.Shape[1]);
    }

    /// <summary>y = x·scale[c] + shift[c] over axis 1; either may be null. Bias add, input normalization.</summary>
    public static Variable ChannelAffine(Tape tape, Variable x, Variable? scale, Variable? shift)
    {
        var y = tape.Empty(x.Shape.Dims.ToArray());
        Ops.ChannelAffine(x.Value, scale?.Value, shift?.Value, y);
        var placeholder = tape.Constant(x.Value);
        return tape.Record(OpKind.ChannelAffine, y, (scale is not null, shift is not null),
            [x, scale ?? placeholder, shift ?? placeholder]);
    }

    /// <summary>x·Wᵀ + b for x N×In, W Out×In (PyTorch's Linear layout), b Out.</summary>
    public static Variable Linear(Tape tape, Variable x, Variable w, Variable? b)
    {
        var y = MatMul(tape, x, w, transB: true);
        return b is null ? y : ChannelAffine(tape, y, null, b);
    }

    /// <summary>
    /// Batch norm over axis 1. Training: batch statistics (running statistics updated). Eval: running statistics,
    /// i.e. the per-channel affine x·γ/√(var+ε) + (β − mean·γ/√(var+ε)).
    /// </summary>
    public static Variable BatchNorm(Tape tape, Variable x, Variable gamma, Variable beta, Tensor runningMean,
        Tensor runningVar, bool training, BatchNormParams p)
    {
        var y = tape.Empty(x.Shape.Dims.ToArray());
        int c = x.Shape[1];
        if (training)
        {
            var mean = tape.Empty(c);
            var invStd = tape.Empty(c);
            Ops.BatchNormForward(p, x.Value, gamma.Value, beta.Value, runningMean, runningVar, y, mean, invStd);
            return tape.Record(OpKind.BatchNormTrain, y, p, [x, gamma, beta], mean, invStd);
        }
        // invStd = 1/sqrt(var + eps); scale = gamma·invStd; shift = beta − mean·scale; xhatShift = −mean·invStd.
        var invStdEval = tape.Empty(c);
        Ops.Fill(invStdEval, p.Epsilon);
        Ops.Binary(BinaryOp.Add, runningVar, invStdEval, invStdEval);
        Ops.Unary(UnaryOp.Sqrt, invStdEval, invStdEval);
        var one = tape.Empty(c);
        Ops.Fill(one, 1f);
        Ops.Binary(BinaryOp.Div, one, invStdEval, invStdEval);
        var scale = tape.Empty(c);
        Ops.Binary(BinaryOp.Mul, gamma.Value, invStdEval, scale);
        var shift = tape.Empty(c);
        Ops.Binary(BinaryOp.Mul, runningMean, scale, shift);
        Ops.Axpby(1f, beta.Value, -1f, shift);
        var xhatShift = tape.Empty(c);
        Ops.Binary(BinaryOp.Mul, runningMean, invStdEval, xhatShift);
        Ops.Axpby(0f, xhatShift, -1f, xhatShift);
        Ops.ChannelAffine(x.Value, scale, shift, y);
        return tape.Record(OpKind.BatchNormEval, y, p, [x, gamma, beta], scale, invStdEval, xhatShift);
    }
}
