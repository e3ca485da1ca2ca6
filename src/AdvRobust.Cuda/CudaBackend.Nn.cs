using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

// Shape letters: x N×C×H×W, w K×C×R×S, y N×K×P×Q; logits N×K (K classes); per-channel tensors C.
// Convolution (also fused with bias and ReLU) and training-mode batch norm run on cuDNN; everything else on our kernels
// (kernels/pool.cu, channel.cu, loss.cu, optim.cu, augment.cu).
public sealed partial class CudaBackend
{
    private CudnnConvolutions? _convolutions;
    private CudnnBatchNorm? _batchNorm;

    /// <summary>This backend's cuDNN convolutions: algorithm cache, shared workspace, deterministic flag.</summary>
    public CudnnConvolutions Convolutions =>
        LazyInitializer.EnsureInitialized(ref _convolutions,
            () => new CudnnConvolutions(Context) { Deterministic = _deterministic });

    internal CudnnBatchNorm BatchNorm =>
        LazyInitializer.EnsureInitialized(ref _batchNorm, () => new CudnnBatchNorm(Context));

    public void Conv2dForward(ConvParams p, Tensor x, Tensor w, Tensor y)
    {
        if (EmptyConv(x, w, y, y)) return;
        Convolutions.Forward(p, x.Shape, w.Shape, P(x), P(w), P(y));
    }

    public void Conv2dBiasReluForward(ConvParams p, Tensor x, Tensor w, Tensor bias, Tensor y)
    {
        if (EmptyConv(x, w, y, y))
        {
            // An empty sum: relu(0 + bias) per output channel.
            ChannelAffine(y, null, bias, y);
            Unary(UnaryOp.Relu, y, y);
            return;
        }
        Convolutions.ForwardBiasRelu(p, x.Shape, w.Shape, P(x), P(w), P(bias), P(y));
    }

    public void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx)
    {
        if (EmptyConv(dx, w, dy, dx)) return;
        Convolutions.BackwardData(p, dx.Shape, w.Shape, P(dy), P(w), P(dx));
    }

    public void Conv2dBackwardFilter(ConvParams p, Tensor x, Tensor dy, Tensor dw)
    {
        if (EmptyConv(x, dw, dy, dw)) return;
        Convolutions.BackwardFilter(p, x.Shape, dw.Shape, P(x), P(dy), P(dw));
    }

    public void Pool2dForward(PoolParams p, Tensor x, Tensor y)
    {
        var (planes, h, w, ph, qw) = PoolDims(x, y);
        if (p.Kind == PoolKind.Max)
            Kernels.MaxPool2dForward(P(x), P(y), planes, h, w, ph, qw, p.Kernel, p.Stride, p.Padding);
        else Kernels.AvgPool2dForward(P(x), P(y), planes, h, w, ph, qw, p.Kernel, p.Stride, p.Padding);
    }

    public void Pool2dBackward(PoolParams p, Tensor x, Tensor y, Tensor dy, Tensor dx)
    {
        var (planes, h, w, ph, qw) = PoolDims(x, y);
        if (p.Kind == PoolKind.Max)
            Kernels.MaxPool2dBackward(P(x), P(dy), P(dx), planes, h, w, ph, qw, p.Kernel, p.Stride, p.Padding);
        else Kernels.AvgPool2dBackward(P(dy), P(dx), planes, h, w, ph, qw, p.Kernel, p.Stride, p.Padding);
    }

    public void BatchNormForward(BatchNormParams p, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, Tensor y, Tensor savedMean, Tensor savedInvStd) =>
        BatchNorm.ForwardTraining(p, x.Shape.Dims, P(x), P(gamma), P(beta), P(runningMean), P(runningVar), P(y),
            P(savedMean), P(savedInvStd));

    public void BatchNormBackward(BatchNormParams p, Tensor x, Tensor dy, Tensor gamma, Tensor savedMean,
        Tensor savedInvStd, Tensor dx, Tensor dgamma, Tensor dbeta) =>
        BatchNorm.Backward(p, x.Shape.Dims, P(x), P(dy), P(gamma), P(savedMean), P(savedInvStd), P(dx), P(dgamma),
            P(dbeta));

    public void ChannelAffine(Tensor x, Tensor? scale, Tensor? shift, Tensor y) =>
        Kernels.ChannelAffine(P(x), scale is null ? 0 : P(scale), shift is null ? 0 : P(shift), P(y), x.Length,
            x.Shape[1], Inner(x));

    public void ChannelSum(Tensor x, Tensor y) => Kernels.ChannelSum(P(x), P(y), x.Shape[0], x.Shape[1], Inner(x));

    public void ChannelFill(Tensor value, Tensor y) =>
        Kernels.ChannelFill(P(value), P(y), y.Length, y.Shape[1], Inner(y));

    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, float labelSmoothing, Tensor loss, Tensor probs) =>
        Kernels.SoftmaxCrossEntropyForward(P(logits), P(labels), P(loss), P(probs), logits.Shape[0], logits.Shape[1],
            labelSmoothing);

    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, float labelSmoothing, Tensor gradLoss,
        Tensor gradLogits) =>
        Kernels.SoftmaxCrossEntropyBackward(P(probs), P(labels), P(gradLoss), P(gradLogits), probs.Shape[0],
            probs.Shape[1], labelSmoothing);

    public void LogSoftmax(Tensor x, Tensor y) => Kernels.LogSoftmaxForward(P(x), P(y), x.Shape[0], x.Shape[1]);

    public void LogSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) =>
        Kernels.LogSoftmaxBackward(P(y), P(dy), P(dx), y.Shape[0], y.Shape[1]);

    public void MarginLoss(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor loss) =>
        Kernels.MarginLossForward(P(logits), P(labels), targets is null ? 0 : P(targets), P(loss), logits.Shape[0],
            logits.Shape[1], (int)kind);

    public void MarginLossBackward(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor gradLoss,
        Tensor gradLogits) =>
        Kernels.MarginLossBackward(P(logits), P(labels), targets is null ? 0 : P(targets), P(gradLoss), P(gradLogits),
            logits.Shape[0], logits.Shape[1], (int)kind);

    public void SgdStep(SgdParams p, Tensor param, Tensor grad, Tensor momentum) =>
        Kernels.SgdStep(P(param), P(grad), P(momentum), p.LearningRate, p.Momentum, p.WeightDecay, p.Nesterov,
            param.Length);

    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, ulong seed, uint stream, uint firstSample) =>
        Kernels.RandomCropFlip(P(x), P(y), x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], pad, flip, seed, stream,
            firstSample);

    public void SgdStep(SgdParams p, Tensor lr, Tensor param, Tensor grad, Tensor momentum) =>
        Kernels.SgdStep(P(param), P(grad), P(momentum), 0f, p.Momentum, p.WeightDecay, p.Nesterov, param.Length,
            P(lr));

    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, Tensor key) =>
        Kernels.RandomCropFlip(P(x), P(y), x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], pad, flip, 0, 0, 0, P(key));

    /// <summary>Frees the cuDNN descriptors, algorithm cache and workspace; call before the context goes.</summary>
    internal void DisposeNn()
    {
        _convolutions?.Dispose();
        _batchNorm?.Dispose();
    }

    /// <summary>
    /// cuDNN rejects zero-sized descriptors. When x, w or y is empty the pass's output is an empty sum: zero-fill it
    /// (a no-op when the output itself is empty) and report that the pass is done.
    /// </summary>
    private bool EmptyConv(Tensor x, Tensor w, Tensor y, Tensor output)
    {
        if (x.Length != 0 && w.Length != 0 && y.Length != 0) return false;
        Kernels.Fill(P(output), 0f, output.Length);
        return true;
    }

    private static (int Planes, int H, int W, int P, int Q) PoolDims(Tensor x, Tensor y) =>
        (checked(x.Shape[0] * x.Shape[1]), x.Shape[2], x.Shape[3], y.Shape[2], y.Shape[3]);

    /// <summary>Elements per (sample, channel): the product of the axes after axis 1.</summary>
    private static int Inner(Tensor x)
    {
        long inner = 1;
        for (int i = 2; i < x.Rank; i++) inner *= x.Shape[i];
        return checked((int)inner);
    }
}
