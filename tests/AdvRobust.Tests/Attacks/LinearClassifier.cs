using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Tests.Attacks;

/// <summary>
/// z = W·x + b for the attack tests (only GEMM, ChannelAffine and the losses), with host twins in double. Shape
/// letters: x N×C×H×W flattened to N×D, weights K×D (PyTorch's Linear layout), K classes.
/// </summary>
public sealed class LinearClassifier : Classifier
{
    private readonly Parameter _weight, _bias;
    private readonly int[] _inputShape;

    public LinearClassifier(IBackend backend, float[] weight, float[] bias, params int[] inputShape)
    {
        _inputShape = inputShape;
        int d = inputShape.Aggregate(1, (a, b) => a * b);
        Classes = bias.Length;
        _weight = RegisterParameter("weight", Tensor.FromArray(backend, weight, Classes, d));
        _bias = RegisterParameter("bias", Tensor.FromArray(backend, bias, Classes));
        Weight = weight;
        Bias = bias;
    }

    public float[] Weight { get; }
    public float[] Bias { get; }
    public override int Classes { get; }
    public override int EmbeddingDim => Classes;
    public override int[] InputShape => _inputShape;

    /// <summary>How often Forward ran in training mode (attacks must run in eval mode).</summary>
    public int TrainingForwards { get; private set; }
    public int Forwards { get; private set; }

    public override ModelOutput Forward(Tape tape, Variable x)
    {
        Forwards++;
        if (Training) TrainingForwards++;
        var logits = F.Linear(tape, F.Flatten(tape, x), tape.Param(_weight), tape.Param(_bias));
        return new ModelOutput(logits, logits);
    }

    /// <summary>Logits in double on the host: z = W·x + b.</summary>
    public double[] HostLogits(ReadOnlySpan<float> x)
    {
        int d = x.Length;
        var z = new double[Classes];
        for (int k = 0; k < Classes; k++)
        {
            double s = Bias[k];
            for (int e = 0; e < d; e++) s += (double)Weight[k * d + e] * x[e];
            z[k] = s;
        }
        return z;
    }

    /// <summary>Softmax cross-entropy at logits z for label y, in double.</summary>
    public static double CrossEntropy(double[] z, int y)
    {
        double max = z.Max(), sum = z.Sum(v => Math.Exp(v - max));
        return max + Math.Log(sum) - z[y];
    }
}
