using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Layers;

namespace AdvRobust.Core.Nn.Models;

/// <summary>
/// WideResNet-depth-k in the layout of Madry et al.'s CIFAR model as ported by TRADES and RobustBench
/// (wide_resnet.py, dropout 0, no sub_block1): n = (depth − 4)/6 <see cref="WideBasicBlock"/>s per stage;
/// 3×3 stem conv to 16 channels, stages of widths 16k, 32k, 64k with strides 1, 2, 2, then ReLU(bn1(·)), global
/// average pooling to the 64k-dimensional embedding, and "fc". Convolutions N(0, 2/fan_out), fc bias 0, as that code.
/// Names: conv1, block{1-3}.layer.{i}.{bn1,conv1,bn2,conv2,convShortcut}, bn1, fc.
/// </summary>
public sealed class WideResNet : ImageClassifier
{
    public WideResNet(ParameterInit init, int depth, int widen, int classes, int[] inputShape, float[] mean,
        float[] std)
        : base(init, classes, inputShape, mean, std)
    {
        if (depth < 10 || (depth - 4) % 6 != 0)
            throw new ArgumentException($"WideResNet depth must be 6n + 4 (n ≥ 1), got {depth}");
        if (widen < 1) throw new ArgumentException($"widen factor must be positive, got {widen}");
        (Depth, Widen) = (depth, widen);
        int n = (depth - 4) / 6;
        int[] channels = [16, 16 * widen, 32 * widen, 64 * widen];
        Conv1 = RegisterModule("conv1", new Conv2d(init, inputShape[0], channels[0], 3, 1, 1));
        Stages = new NetworkBlock[3];
        for (int s = 0; s < 3; s++)
            Stages[s] = RegisterModule($"block{s + 1}",
                new NetworkBlock(init, n, channels[s], channels[s + 1], s == 0 ? 1 : 2));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(init, channels[3]));
        EmbeddingDim = channels[3];
        Fc = RegisterModule("fc", new Linear(init, channels[3], classes, zeroBias: true));
    }

    public int Depth { get; }
    public int Widen { get; }
    public override int EmbeddingDim { get; }
    public Conv2d Conv1 { get; }
    public NetworkBlock[] Stages { get; }
    public BatchNorm2d Bn1 { get; }
    public Linear Fc { get; }

    protected override ModelOutput ForwardNormalized(Tape tape, Variable x)
    {
        var h = Conv1.Forward(tape, x);
        foreach (var stage in Stages) h = stage.Forward(tape, h);
        var embedding = GlobalAvgPool(tape, F.Relu(tape, Bn1.Forward(tape, h)));
        return new ModelOutput(Fc.Forward(tape, embedding), embedding);
    }
}
