using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Tests.Attacks;

/// <summary>Inputs and labels for the attack tests, built on the host.</summary>
public static class AttackData
{
    /// <summary>Logits of a batch (host) through a forward pass that records nothing.</summary>
    public static float[] Logits(Classifier model, Tensor x)
    {
        using var tape = new Tape(x.Backend, parameterGradients: false);
        return model.Forward(tape, tape.Constant(x)).Logits.Value.ToArray();
    }

    public static int[] Predict(Classifier model, Tensor x)
    {
        float[] z = Logits(model, x);
        int k = model.Classes, n = z.Length / k;
        var pred = new int[n];
        for (int i = 0; i < n; i++)
            for (int j = 1; j < k; j++)
                if (z[i * k + j] > z[i * k + pred[i]]) pred[i] = j;
        return pred;
    }

    /// <summary>Per-sample softmax CE (double) of the model at x.</summary>
    public static double[] CrossEntropy(Classifier model, Tensor x, int[] y)
    {
        float[] z = Logits(model, x);
        int k = model.Classes;
        return y.Select((label, i) => LinearClassifier.CrossEntropy(
            z.AsSpan(i * k, k).ToArray().Select(v => (double)v).ToArray(), label)).ToArray();
    }

    /// <summary>Row i (D values) of an N×D array.</summary>
    public static float[] Row(float[] a, int i, int d) => a[(i * d)..((i + 1) * d)];

    /// <summary>Rows <paramref name="rows"/> of an N×D array, concatenated.</summary>
    public static float[] Rows(float[] a, int[] rows, int d) => rows.SelectMany(r => Row(a, r, d)).ToArray();

    /// <summary>Largest per-sample l-inf or l2 distance between a and b (N×D); whether all of a is in [0, 1].</summary>
    public static (double MaxNorm, bool InBox) Perturbation(float[] a, float[] b, int n, PgdNorm norm)
    {
        int d = a.Length / n;
        double max = 0;
        bool inBox = a.All(v => v >= 0f && v <= 1f);
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int e = i * d; e < (i + 1) * d; e++)
            {
                double diff = Math.Abs((double)a[e] - b[e]);
                s = norm == PgdNorm.Linf ? Math.Max(s, diff) : s + diff * diff;
            }
            max = Math.Max(max, norm == PgdNorm.Linf ? s : Math.Sqrt(s));
        }
        return (max, inBox);
    }

    /// <summary>Asserts every row of adv is within eps of x (plus float rounding) and in [0, 1].</summary>
    public static void AssertInBallAndBox(Tensor adv, Tensor x, PgdNorm norm, float eps)
    {
        var (maxNorm, inBox) = Perturbation(adv.ToArray(), x.ToArray(), x.Shape[0], norm);
        Assert.That(inBox, Is.True, "adversarial pixels outside [0, 1]");
        Assert.That(maxNorm, Is.LessThanOrEqualTo(eps * (1 + 1e-5) + 1e-6), $"{norm} perturbation beyond eps {eps}");
    }
}
