using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;

namespace AdvRobust.Research.Proxy;

/// <summary>
/// A deliberately small discriminator: conv 3×3 pad 1 (C → w) + ReLU, conv 3×3 stride 2 pad 1 (w → 2w) + ReLU,
/// global max pooling of each feature map (the 2w-dimensional embedding), linear → classes. Names: conv1, conv2, fc.
/// Global pooling makes it a detector of local patterns (edges, texture, noise) wherever they occur, which is what
/// tells real images from blurred or noisy ones, with few weights to learn from a few hundred images. Max rather than
/// average pooling because the strongest local feature is what survives an l-inf attack: moving every pixel by ε
/// cannot erase a real image's sharpest edge nor paint one into a blurred image, while an average over the image is
/// easy to shift (measured on Fashion-MNIST against PCA k = 2 proxies, 512 training images: 75% robust accuracy at
/// ε = 0.05 with max pooling, chance with average pooling; the constructor's pooling argument keeps the choice open).
/// At w = 8 on 1×28×28 it has 1,282 parameters for 2 classes and costs about 0.56 MFLOP per image forward, so
/// adversarially training one discriminator per ε takes seconds on a CPU (the Madry small CNN: 3.3 M parameters,
/// about 28 MFLOP).
/// </summary>
public sealed class TinyCnn : ImageClassifier
{
    private static readonly ConvParams Stride2 = new(2, 1);

    public TinyCnn(ParameterInit init, int classes, int[] inputShape, float[] mean, float[] std, int width = 8,
        PoolKind pooling = PoolKind.Max)
        : base(init, classes, inputShape, mean, std)
    {
        if (width < 1) throw new ArgumentException($"TinyCnn width must be positive, got {width}");
        int h = Stride2.OutSize(inputShape[1], 3), w = Stride2.OutSize(inputShape[2], 3);
        if (h != w) throw new ArgumentException($"TinyCnn pools square feature maps; {inputShape[1]}×{inputShape[2]} " +
                                                $"images give {h}×{w}");
        Pooling = new PoolParams(pooling, h, h);
        Conv1 = RegisterModule("conv1", new Conv2d(init, inputShape[0], width, 3, 1, 1, bias: true));
        Conv2 = RegisterModule("conv2", new Conv2d(init, width, 2 * width, 3, 2, 1, bias: true));
        EmbeddingDim = 2 * width;
        Fc = RegisterModule("fc", new Linear(init, EmbeddingDim, classes));
    }

    public override int EmbeddingDim { get; }
    public PoolParams Pooling { get; }
    public Conv2d Conv1 { get; }
    public Conv2d Conv2 { get; }
    public Linear Fc { get; }

    protected override ModelOutput ForwardNormalized(Tape tape, Variable x)
    {
        var h = F.Relu(tape, Conv1.Forward(tape, x));
        h = F.Relu(tape, Conv2.Forward(tape, h));
        var embedding = F.View(tape, F.Pool2d(tape, h, Pooling), h.Shape[0], EmbeddingDim);
        return new ModelOutput(Fc.Forward(tape, embedding), embedding);
    }
}
