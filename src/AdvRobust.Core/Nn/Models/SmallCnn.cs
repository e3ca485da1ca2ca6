using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Layers;

namespace AdvRobust.Core.Nn.Models;

/// <summary>
/// The MNIST CNN of Madry et al. (2018): conv 5×5 32 (pad 2) + ReLU + max-pool 2, conv 5×5 64 (pad 2) + ReLU +
/// max-pool 2, fc 64·(H/4)·(W/4) → 1024 + ReLU (the embedding), fc 1024 → classes. For 1×28×28 that is
/// fc 3136 → 1024, 3,274,634 parameters with 10 classes. Convolutions have biases, as in the original.
/// Names: conv1.{weight,bias}, conv2.{weight,bias}, fc1.{weight,bias}, fc2.{weight,bias}.
/// </summary>
public sealed class SmallCnn : ImageClassifier
{
    private static readonly PoolParams MaxPool2 = new(PoolKind.Max, 2, 2);

    public SmallCnn(ParameterInit init, int classes, int[] inputShape, float[] mean, float[] std)
        : base(init, classes, inputShape, mean, std)
    {
        if (inputShape[1] % 4 != 0 || inputShape[2] % 4 != 0)
            throw new ArgumentException(
                $"SmallCnn pools twice by 2: H and W must be multiples of 4, got {inputShape[1]}×{inputShape[2]}");
        Conv1 = RegisterModule("conv1", new Conv2d(init, inputShape[0], 32, 5, padding: 2, bias: true));
        Conv2 = RegisterModule("conv2", new Conv2d(init, 32, 64, 5, padding: 2, bias: true));
        Fc1 = RegisterModule("fc1", new Linear(init, 64 * (inputShape[1] / 4) * (inputShape[2] / 4), 1024));
        Fc2 = RegisterModule("fc2", new Linear(init, 1024, classes));
    }

    public override int EmbeddingDim => 1024;
    public Conv2d Conv1 { get; }
    public Conv2d Conv2 { get; }
    public Linear Fc1 { get; }
    public Linear Fc2 { get; }

    protected override ModelOutput ForwardNormalized(Tape tape, Variable x)
    {
        var h = F.Pool2d(tape, Conv1.ForwardRelu(tape, x), MaxPool2);
        h = F.Pool2d(tape, Conv2.ForwardRelu(tape, h), MaxPool2);
        var embedding = F.Relu(tape, Fc1.Forward(tape, F.Flatten(tape, h)));
        return new ModelOutput(Fc2.Forward(tape, embedding), embedding);
    }
}
