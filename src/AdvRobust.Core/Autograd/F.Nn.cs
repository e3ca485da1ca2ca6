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

    /// <summary>
    /// relu(conv(x, w) + b[k]) as one op (cuDNN's fused conv-bias-activation on the GPU; the same three steps on the
    /// CPU, so values equal the unfused chain bitwise). Only the output is kept: ReLU's mask comes from it.
    /// </summary>
    public static Variable Conv2dBiasRelu(Tape tape, Variable x, Variable w, Variable b, ConvParams p)
    {
        var y = tape.Own(Tensor.Empty(tape.Backend, DType.Float32, Ops.Conv2dOutputShape(p, x.Shape, w.Shape).Dims.ToArray()));
        Ops.Conv2dBiasReluForward(p, x.Value, w.Value, b.Value, y);
        return tape.Record(OpKind.Conv2dBiasRelu, y, p, [x, w, b]);
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
        int c = x.Shape[1];
        if (training)
        {
            var y = tape.Empty(x.Shape.Dims.ToArray());
            var mean = tape.Empty(c);
            var invStd = tape.Empty(c);
            Ops.BatchNormForward(p, x.Value, gamma.Value, beta.Value, runningMean, runningVar, y, mean, invStd);
            return tape.Record(OpKind.BatchNormTrain, y, p, [x, gamma, beta], mean, invStd);
        }
        var invStdEval = tape.Empty(c);
        var scale = tape.Empty(c);
        var shift = tape.Empty(c);
        var xhatShift = tape.Empty(c);
        BatchNormEvalAffine(p, gamma.Value, beta.Value, runningMean, runningVar, invStdEval, scale, shift, xhatShift);
        return BatchNormEval(tape, x, gamma, beta, p, scale, shift, invStdEval, xhatShift);
    }

    /// <summary>
    /// Eval-mode batch norm with precomputed constants (<see cref="BatchNormEvalAffine"/>): one channel-affine pass.
    /// The constants are saved for the backward, not owned by the tape, so they must outlive it unchanged.
    /// </summary>
    public static Variable BatchNormEval(Tape tape, Variable x, Variable gamma, Variable beta, BatchNormParams p,
        Tensor scale, Tensor shift, Tensor invStd, Tensor xhatShift)
    {
        var y = tape.Empty(x.Shape.Dims.ToArray());
        Ops.ChannelAffine(x.Value, scale, shift, y);
        return tape.Record(OpKind.BatchNormEval, y, p, [x, gamma, beta], scale, invStd, xhatShift);
    }

    /// <summary>
    /// Eval-mode batch norm's per-channel constants from γ, β and the running statistics, always by this one op
    /// sequence (so cached and per-pass constants are bitwise equal): invStd = 1/sqrt(var + ε), scale = γ·invStd,
    /// shift = β − mean·scale, xhatShift = −mean·invStd. Ten launches on a GPU.
    /// </summary>
    public static void BatchNormEvalAffine(BatchNormParams p, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, Tensor invStd, Tensor scale, Tensor shift, Tensor xhatShift)
    {
        Ops.Fill(invStd, p.Epsilon);
        Ops.Binary(BinaryOp.Add, runningVar, invStd, invStd);
        Ops.Unary(UnaryOp.Sqrt, invStd, invStd);
        // The reciprocal's numerator goes in shift, which is overwritten below.
        Ops.Fill(shift, 1f);
        Ops.Binary(BinaryOp.Div, shift, invStd, invStd);
        Ops.Binary(BinaryOp.Mul, gamma, invStd, scale);
        Ops.Binary(BinaryOp.Mul, runningMean, scale, shift);
        Ops.Axpby(1f, beta, -1f, shift);
        Ops.Binary(BinaryOp.Mul, runningMean, invStd, xhatShift);
        Ops.Axpby(0f, xhatShift, -1f, xhatShift);
    }
}
