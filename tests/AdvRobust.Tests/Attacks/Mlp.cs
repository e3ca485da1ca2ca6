using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

/// <summary>A 2-layer MLP for the attack tests: z = W2·relu(W1·x + b1) + b2 (x flattened to N×D), seeded.</summary>
public sealed class Mlp : Classifier
{
    private readonly Parameter _w1, _b1, _w2, _b2;
    private readonly int[] _inputShape;

    public Mlp(IBackend backend, SeededRandom rng, int hidden, int classes, params int[] inputShape)
    {
        _inputShape = inputShape;
        int d = inputShape.Aggregate(1, (a, b) => a * b);
        Classes = classes;
        EmbeddingDim = hidden;
        float[] w1 = rng.Normal((long)hidden * d, 3f / MathF.Sqrt(d));
        _w1 = RegisterParameter("fc1.weight", Tensor.FromArray(backend, w1, hidden, d));
        _b1 = RegisterParameter("fc1.bias", Tensor.FromArray(backend, rng.Normal(hidden, 0.1f), hidden));
        float[] w2 = rng.Normal((long)classes * hidden, 2f / MathF.Sqrt(hidden));
        _w2 = RegisterParameter("fc2.weight", Tensor.FromArray(backend, w2, classes, hidden));
        _b2 = RegisterParameter("fc2.bias", Tensor.FromArray(backend, rng.Normal(classes, 0.1f), classes));
    }

    public override int Classes { get; }
    public override int EmbeddingDim { get; }
    public override int[] InputShape => _inputShape;
    public int TrainingForwards { get; private set; }

    public override ModelOutput Forward(Tape tape, Variable x)
    {
        if (Training) TrainingForwards++;
        var h = F.Relu(tape, F.Linear(tape, F.Flatten(tape, x), tape.Param(_w1), tape.Param(_b1)));
        return new ModelOutput(F.Linear(tape, h, tape.Param(_w2), tape.Param(_b2)), h);
    }
}
