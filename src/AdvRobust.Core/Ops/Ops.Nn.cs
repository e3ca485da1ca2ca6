using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

// Shape letters: x N×C×H×W, w K×C×R×S (K output channels, R×S kernel), y N×K×P×Q.
public static partial class Ops
{
    public static Shape Conv2dOutputShape(ConvParams p, Shape x, Shape w) =>
        new(x[0], w[0], p.OutSize(x[2], w[2]), p.OutSize(x[3], w[3]));

    public static void Conv2dForward(ConvParams p, Tensor x, Tensor w, Tensor y)
    {
        var backend = CheckConv(nameof(Conv2dForward), p, x, w);
        RequireShape(nameof(Conv2dForward), y, Conv2dOutputShape(p, x.Shape, w.Shape));
        SameBackend(nameof(Conv2dForward), x, y);
        backend.Conv2dForward(p, x, w, y);
    }

    /// <summary>y = relu(conv(x, w) + bias[k]): the forward of Conv2d with bias followed by ReLU, in one op.</summary>
    public static void Conv2dBiasReluForward(ConvParams p, Tensor x, Tensor w, Tensor bias, Tensor y)
    {
        const string op = nameof(Conv2dBiasReluForward);
        var backend = CheckConv(op, p, x, w);
        RequireShape(op, y, Conv2dOutputShape(p, x.Shape, w.Shape));
        SameBackend(op, x, bias, y);
        RequireF32(op, bias);
        RequireShape(op, bias, new Shape(w.Shape[0]));
        y.Storage.MarkWritten();
        backend.Conv2dBiasReluForward(p, x, w, bias, y);
    }

    public static void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx)
    {
        var backend = CheckConv(nameof(Conv2dBackwardData), p, dx, w);
        RequireShape(nameof(Conv2dBackwardData), dy, Conv2dOutputShape(p, dx.Shape, w.Shape));
        SameBackend(nameof(Conv2dBackwardData), dx, dy);
        backend.Conv2dBackwardData(p, dy, w, dx);
    }

    public static void Conv2dBackwardFilter(ConvParams p, Tensor x, Tensor dy, Tensor dw)
    {
        var backend = CheckConv(nameof(Conv2dBackwardFilter), p, x, dw);
        RequireShape(nameof(Conv2dBackwardFilter), dy, Conv2dOutputShape(p, x.Shape, dw.Shape));
        SameBackend(nameof(Conv2dBackwardFilter), x, dy);
        backend.Conv2dBackwardFilter(p, x, dy, dw);
    }

    public static Shape Pool2dOutputShape(PoolParams p, Shape x) => new(x[0], x[1], p.OutSize(x[2]), p.OutSize(x[3]));

    public static void Pool2dForward(PoolParams p, Tensor x, Tensor y)
    {
        const string op = nameof(Pool2dForward);
        var backend = SameBackend(op, x, y);
        CheckPool(op, p, x);
        RequireShape(op, y, Pool2dOutputShape(p, x.Shape));
        backend.Pool2dForward(p, x, y);
    }

    public static void Pool2dBackward(PoolParams p, Tensor x, Tensor y, Tensor dy, Tensor dx)
    {
        const string op = nameof(Pool2dBackward);
        var backend = SameBackend(op, x, y, dy, dx);
        CheckPool(op, p, x);
        RequireShape(op, y, Pool2dOutputShape(p, x.Shape));
        RequireSameShape(op, y, dy);
        RequireSameShape(op, x, dx);
        backend.Pool2dBackward(p, x, y, dy, dx);
    }

    public static void BatchNormForward(BatchNormParams p, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, Tensor y, Tensor savedMean, Tensor savedInvStd)
    {
        const string op = nameof(BatchNormForward);
        var backend = SameBackend(op, x, gamma, beta, runningMean, runningVar, y, savedMean, savedInvStd);
        Require(x.Rank >= 2 && x.Shape[1] > 0, op, $"x must be N×C×..., got {x.Shape}");
        Require(x.Length / x.Shape[1] > 1, op, $"batch statistics need more than one value per channel, got {x.Shape}");
        var c = new Shape(x.Shape[1]);
        foreach (var t in new[] { gamma, beta, runningMean, runningVar, savedMean, savedInvStd })
            RequireShape(op, t, c);
        RequireSameShape(op, x, y);
        runningMean.Storage.MarkWritten();
        runningVar.Storage.MarkWritten();
        backend.BatchNormForward(p, x, gamma, beta, runningMean, runningVar, y, savedMean, savedInvStd);
    }

    public static void BatchNormBackward(BatchNormParams p, Tensor x, Tensor dy, Tensor gamma, Tensor savedMean,
        Tensor savedInvStd, Tensor dx, Tensor dgamma, Tensor dbeta)
    {
        const string op = nameof(BatchNormBackward);
        var backend = SameBackend(op, x, dy, gamma, savedMean, savedInvStd, dx, dgamma, dbeta);
        var c = new Shape(x.Shape[1]);
        foreach (var t in new[] { gamma, savedMean, savedInvStd, dgamma, dbeta }) RequireShape(op, t, c);
        RequireSameShape(op, x, dy);
        RequireSameShape(op, x, dx);
        backend.BatchNormBackward(p, x, dy, gamma, savedMean, savedInvStd, dx, dgamma, dbeta);
    }

    public static void ChannelAffine(Tensor x, Tensor? scale, Tensor? shift, Tensor y)
    {
        const string op = nameof(ChannelAffine);
        var backend = SameBackend(op, x, y);
        RequireF32(op, x);
        Require(x.Rank >= 2, op, $"x needs a channel axis 1, got {x.Shape}");
        RequireSameShape(op, x, y);
        foreach (var t in new[] { scale, shift })
        {
            if (t is null) continue;
            SameBackend(op, x, t);
            RequireShape(op, t, new Shape(x.Shape[1]));
        }
        backend.ChannelAffine(x, scale, shift, y);
    }

    public static void ChannelSum(Tensor x, Tensor y)
    {
        const string op = nameof(ChannelSum);
        var backend = SameBackend(op, x, y);
        Require(x.Rank >= 2, op, $"x needs a channel axis 1, got {x.Shape}");
        RequireShape(op, y, new Shape(x.Shape[1]));
        backend.ChannelSum(x, y);
    }

    /// <summary>y[n, c, ...] = value[c] over channel axis 1.</summary>
    public static void ChannelFill(Tensor value, Tensor y)
    {
        const string op = nameof(ChannelFill);
        var backend = SameBackend(op, value, y);
        RequireF32(op, y);
        Require(y.Rank >= 2, op, $"y needs a channel axis 1, got {y.Shape}");
        RequireF32(op, value);
        RequireShape(op, value, new Shape(y.Shape[1]));
        y.Storage.MarkWritten();
        backend.ChannelFill(value, y);
    }

    public static void SoftmaxCrossEntropy(Tensor logits, Tensor labels, float labelSmoothing, Tensor loss, Tensor probs)
    {
        const string op = nameof(SoftmaxCrossEntropy);
        var backend = CheckLogits(op, logits, labels);
        SameBackend(op, logits, loss, probs);
        Require(labelSmoothing is >= 0f and < 1f, op, $"label smoothing must be in [0, 1), got {labelSmoothing}");
        RequireShape(op, loss, new Shape(logits.Shape[0]));
        RequireSameShape(op, logits, probs);
        backend.SoftmaxCrossEntropy(logits, labels, labelSmoothing, loss, probs);
    }

    public static void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, float labelSmoothing, Tensor gradLoss,
        Tensor gradLogits)
    {
        const string op = nameof(SoftmaxCrossEntropyBackward);
        var backend = CheckLogits(op, probs, labels);
        SameBackend(op, probs, gradLoss, gradLogits);
        RequireShape(op, gradLoss, new Shape(probs.Shape[0]));
        RequireSameShape(op, probs, gradLogits);
        backend.SoftmaxCrossEntropyBackward(probs, labels, labelSmoothing, gradLoss, gradLogits);
    }

    public static void LogSoftmax(Tensor x, Tensor y)
    {
        var backend = SameBackend(nameof(LogSoftmax), x, y);
        RequireRank(nameof(LogSoftmax), x, 2);
        RequireSameShape(nameof(LogSoftmax), x, y);
        backend.LogSoftmax(x, y);
    }

    public static void LogSoftmaxBackward(Tensor y, Tensor dy, Tensor dx)
    {
        var backend = SameBackend(nameof(LogSoftmaxBackward), y, dy, dx);
        RequireRank(nameof(LogSoftmaxBackward), y, 2);
        RequireSameShape(nameof(LogSoftmaxBackward), y, dy);
        RequireSameShape(nameof(LogSoftmaxBackward), y, dx);
        backend.LogSoftmaxBackward(y, dy, dx);
    }

    public static void MarginLoss(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor loss)
    {
        const string op = nameof(MarginLoss);
        var backend = CheckMargin(op, kind, logits, labels, targets);
        SameBackend(op, logits, loss);
        RequireShape(op, loss, new Shape(logits.Shape[0]));
        backend.MarginLoss(kind, logits, labels, targets, loss);
    }

    public static void MarginLossBackward(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets,
        Tensor gradLoss, Tensor gradLogits)
    {
        const string op = nameof(MarginLossBackward);
        var backend = CheckMargin(op, kind, logits, labels, targets);
        SameBackend(op, logits, gradLoss, gradLogits);
        RequireShape(op, gradLoss, new Shape(logits.Shape[0]));
        RequireSameShape(op, logits, gradLogits);
        backend.MarginLossBackward(kind, logits, labels, targets, gradLoss, gradLogits);
    }

    public static void SgdStep(SgdParams p, Tensor param, Tensor grad, Tensor momentum)
    {
        const string op = nameof(SgdStep);
        var backend = SameBackend(op, param, grad, momentum);
        RequireSameShape(op, param, grad);
        RequireSameShape(op, param, momentum);
        Require(float.IsFinite(p.LearningRate) && p.LearningRate >= 0, op, $"learning rate {p.LearningRate}");
        param.Storage.MarkWritten();
        backend.SgdStep(p, param, grad, momentum);
    }

    public static void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, ulong seed, uint stream, uint firstSample)
    {
        const string op = nameof(RandomCropFlip);
        var backend = SameBackend(op, x, y);
        RequireRank(op, x, 4);
        RequireSameShape(op, x, y);
        Require(pad >= 0 && pad < Math.Min(x.Shape[2], x.Shape[3]), op, $"padding {pad} for {x.Shape}");
        backend.RandomCropFlip(x, y, pad, flip, seed, stream, firstSample);
    }

    private static IBackend CheckConv(string op, ConvParams p, Tensor x, Tensor w)
    {
        var backend = SameBackend(op, x, w);
        RequireF32(op, x);
        RequireRank(op, x, 4);
        RequireRank(op, w, 4);
        Require(x.Shape[1] == w.Shape[1], op, $"x has {x.Shape[1]} channels but w {w.Shape} expects {w.Shape[1]}");
        Require(p.Stride >= 1 && p.Padding >= 0, op, $"stride {p.Stride}, padding {p.Padding}");
        Require(p.OutSize(x.Shape[2], w.Shape[2]) >= 1 && p.OutSize(x.Shape[3], w.Shape[3]) >= 1, op,
            $"kernel {w.Shape[2]}×{w.Shape[3]} does not fit input {x.Shape[2]}×{x.Shape[3]} with padding {p.Padding}");
        return backend;
    }

    private static void CheckPool(string op, PoolParams p, Tensor x)
    {
        RequireF32(op, x);
        RequireRank(op, x, 4);
        Require(p.Kernel >= 1 && p.Stride >= 1 && p.Padding >= 0 && p.Padding <= p.Kernel / 2, op,
            $"kernel {p.Kernel}, stride {p.Stride}, padding {p.Padding}");
        Require(p.OutSize(x.Shape[2]) >= 1 && p.OutSize(x.Shape[3]) >= 1, op, $"window {p.Kernel} does not fit {x.Shape}");
    }

    private static IBackend CheckLogits(string op, Tensor logits, Tensor labels)
    {
        var backend = SameBackend(op, logits, labels);
        RequireF32(op, logits);
        RequireRank(op, logits, 2);
        Require(labels.DType == DType.Int32, op, "labels must be Int32");
        RequireShape(op, labels, new Shape(logits.Shape[0]));
        return backend;
    }

    private static IBackend CheckMargin(string op, MarginKind kind, Tensor logits, Tensor labels, Tensor? targets)
    {
        var backend = CheckLogits(op, logits, labels);
        int needed = kind == MarginKind.TargetedDlr ? 4 : kind == MarginKind.Dlr ? 3 : 2;
        Require(logits.Shape[1] >= needed, op, $"{kind} needs at least {needed} classes, got {logits.Shape[1]}");
        Require((kind == MarginKind.TargetedDlr) == (targets is not null), op,
            kind == MarginKind.TargetedDlr ? "targeted DLR needs targets" : $"{kind} takes no targets");
        if (targets is not null) CheckLogits(op, logits, targets);
        return backend;
    }
}
