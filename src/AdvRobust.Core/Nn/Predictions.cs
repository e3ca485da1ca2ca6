using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Nn;

/// <summary>A classifier's predictions on the host: logits from a forward pass that records nothing, and argmax.</summary>
public static class Predictions
{
    /// <summary>Logits of x (N×K, on the host) from a forward pass that records nothing.</summary>
    public static float[] Logits(Classifier model, Tensor x, out int classes)
    {
        using var tape = new Tape(x.Backend, parameterGradients: false);
        var logits = model.Forward(tape, tape.Constant(x)).Logits.Value;
        classes = logits.Shape[1];
        return logits.ToArray();
    }

    /// <summary>Row-wise argmax of N×K logits; the lowest index wins a tie.</summary>
    public static int[] Argmax(Tensor logits) => Argmax(logits.ToArray(), logits.Shape[1]);

    /// <summary>Row-wise argmax of N×<paramref name="k"/> logits on the host; the lowest index wins a tie.</summary>
    public static int[] Argmax(float[] logits, int k)
    {
        var pred = new int[logits.Length / k];
        for (int i = 0; i < pred.Length; i++)
        {
            int best = 0;
            for (int j = 1; j < k; j++)
                if (logits[i * k + j] > logits[i * k + best]) best = j;
            pred[i] = best;
        }
        return pred;
    }
}
