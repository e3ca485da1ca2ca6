using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Layers;

namespace AdvRobust.Core.Nn.Models;

/// <summary>
/// ResNet-18 for small images (kuangliu/pytorch-cifar, RobustBench resnet.py): 3×3 stem conv (stride 1, no bias) +
/// BN + ReLU, no max-pool, four stages of two <see cref="BasicBlock"/>s with widths w, 2w, 4w, 8w (w = 64) and strides
/// 1, 2, 2, 2, global average pooling to the 8w-dimensional embedding, then the "linear" layer.
/// With w = 64, 3×32×32 inputs and 10 classes it has 11,173,962 parameters. Names: conv1, bn1, layer{1-4}.{0,1}.*,
/// linear. A smaller <paramref name="width"/> gives the narrow variant the CPU tests train.
/// </summary>
public sealed class ResNet18 : ImageClassifier
{
    public ResNet18(ParameterInit init, int classes, int[] inputShape, float[] mean, float[] std, int width = 64)
        : base(init, classes, inputShape, mean, std)
    {
        if (width < 1) throw new ArgumentException($"width must be positive, got {width}");
        Conv1 = RegisterModule("conv1", new Conv2d(init, inputShape[0], width, 3, 1, 1));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(init, width));
        int inPlanes = width;
        Stages = new Sequential[4];
        for (int s = 0; s < 4; s++)
        {
            int planes = width << s;
            Stages[s] = RegisterModule($"layer{s + 1}", new Sequential(
                new BasicBlock(init, inPlanes, planes, s == 0 ? 1 : 2),
                new BasicBlock(init, planes, planes, 1)));
            inPlanes = planes;
        }
        EmbeddingDim = inPlanes;
        Linear = RegisterModule("linear", new Linear(init, inPlanes, classes));
    }

    public override int EmbeddingDim { get; }
    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn1 { get; }
    public Sequential[] Stages { get; }
    public Linear Linear { get; }

    protected override ModelOutput ForwardNormalized(Tape tape, Variable x)
    {
        var h = Bn1.ForwardReluAfter(tape, Conv1, x);
        foreach (var stage in Stages) h = stage.Forward(tape, h);
        var embedding = GlobalAvgPool(tape, h);
        return new ModelOutput(Linear.Forward(tape, embedding), embedding);
    }
}

/// <summary>
/// Pre-activation ResNet-18 (He et al. 2016; the PreActResNet18 of Rice et al. 2020 used across adversarial-training
/// papers): 3×3 stem conv (no BN after it), four stages of two <see cref="PreActBlock"/>s (widths w…8w, strides 1, 2,
/// 2, 2), then ReLU(bn(·)) before the global average pooling (<paramref name="bnBeforeFc"/>; RobustBench's
/// bn_before_fc; off gives kuangliu's variant, whose checkpoints have no "bn.*"), and "linear".
/// Names: conv1, layer{1-4}.{0,1}.*, bn, linear.
/// </summary>
public sealed class PreActResNet18 : ImageClassifier
{
    public PreActResNet18(ParameterInit init, int classes, int[] inputShape, float[] mean, float[] std,
        int width = 64, bool bnBeforeFc = true)
        : base(init, classes, inputShape, mean, std)
    {
        if (width < 1) throw new ArgumentException($"width must be positive, got {width}");
        Conv1 = RegisterModule("conv1", new Conv2d(init, inputShape[0], width, 3, 1, 1));
        int inPlanes = width;
        Stages = new Sequential[4];
        for (int s = 0; s < 4; s++)
        {
            int planes = width << s;
            Stages[s] = RegisterModule($"layer{s + 1}", new Sequential(
                new PreActBlock(init, inPlanes, planes, s == 0 ? 1 : 2),
                new PreActBlock(init, planes, planes, 1)));
            inPlanes = planes;
        }
        if (bnBeforeFc) Bn = RegisterModule("bn", new BatchNorm2d(init, inPlanes));
        EmbeddingDim = inPlanes;
        Linear = RegisterModule("linear", new Linear(init, inPlanes, classes));
    }

    public override int EmbeddingDim { get; }
    public Conv2d Conv1 { get; }
    public Sequential[] Stages { get; }
    public BatchNorm2d? Bn { get; }
    public Linear Linear { get; }

    protected override ModelOutput ForwardNormalized(Tape tape, Variable x)
    {
        var h = Conv1.Forward(tape, x);
        foreach (var stage in Stages) h = stage.Forward(tape, h);
        if (Bn is not null) h = F.Relu(tape, Bn.Forward(tape, h));
        var embedding = GlobalAvgPool(tape, h);
        return new ModelOutput(Linear.Forward(tape, embedding), embedding);
    }
}
