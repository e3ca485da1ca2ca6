using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

/// <summary>Problems with known answers for the attack tests. Shape letters: N samples, D = C·H·W, K classes.</summary>
public static class AttackTestData
{
    /// <summary>
    /// A binary linear classifier on 1×4×4 images with x in [0.3, 0.7] (so a perturbation of up to 0.3 per pixel never
    /// meets the [0, 1] box) and y its own prediction. For it the smallest perturbation that flips sample s is known:
    /// eps*_s = m_s/‖v‖₁ (l-inf) or m_s/‖v‖₂ (l2), with v = w_y − w_other and the margin m_s = v·x_s + b_y − b_other.
    /// </summary>
    public static (LinearClassifier Model, float[] X, int[] Y, double[] EpsStar) Binary(IBackend backend,
        SeededRandom rng, int n, PgdNorm norm)
    {
        const int d = 16;
        float[] w = rng.Normal(2 * d, 0.5f), b = rng.Normal(2, 0.1f), x = rng.Uniform(n * d, 0.3f, 0.7f);
        var model = new LinearClassifier(backend, w, b, 1, 4, 4);
        var y = new int[n];
        var epsStar = new double[n];
        for (int i = 0; i < n; i++)
        {
            double[] z = model.HostLogits(x.AsSpan(i * d, d));
            y[i] = z[1] > z[0] ? 1 : 0;
            double margin = Math.Abs(z[1] - z[0]), l1 = 0, l2 = 0;
            for (int e = 0; e < d; e++)
            {
                double v = w[d + e] - w[e];
                l1 += Math.Abs(v);
                l2 += v * v;
            }
            epsStar[i] = margin / (norm == PgdNorm.Linf ? l1 : Math.Sqrt(l2));
        }
        return (model, x, y, epsStar);
    }

    /// <summary>An MLP on 3×8×8 images in [0, 1]; labels are its clean predictions, every 5th one changed.</summary>
    public static (Mlp Model, float[] X, int[] Y) Mlp(IBackend backend, SeededRandom rng, int n, int classes = 10)
    {
        var model = new Mlp(backend, rng, hidden: 32, classes, 3, 8, 8);
        float[] x = rng.Uniform((long)n * 192, 0f, 1f);
        using var tx = Tensor.FromArray(backend, x, n, 3, 8, 8);
        int[] y = AttackData.Predict(model, tx);
        for (int i = 0; i < n; i += 5) y[i] = (y[i] + 1) % classes;
        return (model, x, y);
    }
}
