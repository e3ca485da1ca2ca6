using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// PLACEHOLDER for the next issue's ops (conv, pool, batch norm, losses, SGD, augmentation); replaced before it lands.
public sealed partial class CpuBackend
{
    public void Conv2dForward(ConvParams p, Tensor x, Tensor w, Tensor y) => throw new NotImplementedException();
    public void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx) => throw new NotImplementedException();
    public void Conv2dBackwardFilter(ConvParams p, Tensor x, Tensor dy, Tensor dw) => throw new NotImplementedException();
    public void Pool2dForward(PoolParams p, Tensor x, Tensor y) => throw new NotImplementedException();
    public void Pool2dBackward(PoolParams p, Tensor x, Tensor y, Tensor dy, Tensor dx) => throw new NotImplementedException();
    public void BatchNormForward(BatchNormParams p, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, Tensor y, Tensor savedMean, Tensor savedInvStd) => throw new NotImplementedException();
    public void BatchNormBackward(BatchNormParams p, Tensor x, Tensor dy, Tensor gamma, Tensor savedMean, Tensor savedInvStd, Tensor dx, Tensor dgamma, Tensor dbeta) => throw new NotImplementedException();
    public void ChannelAffine(Tensor x, Tensor? scale, Tensor? shift, Tensor y) => throw new NotImplementedException();
    public void ChannelSum(Tensor x, Tensor y) => throw new NotImplementedException();
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, float labelSmoothing, Tensor loss, Tensor probs) => throw new NotImplementedException();
    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, float labelSmoothing, Tensor gradLoss, Tensor gradLogits) => throw new NotImplementedException();
    public void LogSoftmax(Tensor x, Tensor y) => throw new NotImplementedException();
    public void LogSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) => throw new NotImplementedException();
    public void MarginLoss(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor loss) => throw new NotImplementedException();
    public void MarginLossBackward(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor gradLoss, Tensor gradLogits) => throw new NotImplementedException();
    public void SgdStep(SgdParams p, Tensor param, Tensor grad, Tensor momentum) => throw new NotImplementedException();
    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, ulong seed, uint stream, uint firstSample) => throw new NotImplementedException();
}
