using AdvRobust.Core;
using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/pgd.cu. Shape letters: x, x0 and the gradient g are N×... batches, seen as N samples of
// D = Length / N elements each (D = 1 for a rank-1 tensor). clamp(v, lo, hi) = min(max(v, lo), hi).
public sealed partial class CpuBackend
{
    // ---- PgdStep ----
    // Linf, per element in float:  x = clamp(min(max(x + alpha sign(g), x0 - eps), x0 + eps), lo, hi), sign(0) = 0.
    // L2, per sample s (norms in double):
    //   gn = |g_s|;  step = gn > 0 ? alpha g / gn : 0;  d = x + step - x0;  dn = |d|;  if dn > eps: d *= eps / dn;
    //   x = clamp(x0 + d, lo, hi).
    // In place on x; one thread per sample.
    public void PgdStep(PgdNorm norm, Tensor x, Tensor x0, Tensor grad, PgdParams p)
    {
        int n = x.Shape[0], d = (int)x.Shape.PerSample;
        CpuParallel.For(0, n, s =>
        {
            Span<float> xs = x.F().Slice(s * d, d);
            ReadOnlySpan<float> x0s = x0.F().Slice(s * d, d), gs = grad.F().Slice(s * d, d);
            if (norm == PgdNorm.Linf) LinfStep(xs, x0s, gs, p);
            else L2Step(xs, x0s, gs, p);
        });
    }

    private static void LinfStep(Span<float> x, ReadOnlySpan<float> x0, ReadOnlySpan<float> g, PgdParams p)
    {
        for (int k = 0; k < x.Length; k++)
        {
            float sign = g[k] > 0 ? 1f : g[k] < 0 ? -1f : 0f;
            float v = x[k] + p.Alpha * sign;
            v = MathF.Min(MathF.Max(v, x0[k] - p.Eps), x0[k] + p.Eps);
            x[k] = BoxClamp(v, p);
        }
    }

    private static void L2Step(Span<float> x, ReadOnlySpan<float> x0, ReadOnlySpan<float> g, PgdParams p)
    {
        double gn2 = 0;
        for (int k = 0; k < x.Length; k++) gn2 += (double)g[k] * g[k];
        double gn = Math.Sqrt(gn2);

        // Two passes over d = x + step - x0: its norm, then the projected write (d_k is recomputed, not stored).
        double dn2 = 0;
        for (int k = 0; k < x.Length; k++)
        {
            double dk = L2Delta(x[k], x0[k], g[k], p.Alpha, gn);
            dn2 += dk * dk;
        }
        double dn = Math.Sqrt(dn2);
        double shrink = dn > p.Eps ? p.Eps / dn : 1.0;
        for (int k = 0; k < x.Length; k++)
        {
            double dk = L2Delta(x[k], x0[k], g[k], p.Alpha, gn);
            x[k] = BoxClamp((float)(x0[k] + dk * shrink), p);
        }
    }

    /// <summary>d_k = x_k + step_k - x0_k with step_k = alpha g_k / gn (0 for a zero gradient).</summary>
    private static double L2Delta(float x, float x0, float g, double alpha, double gn) =>
        x + (gn > 0 ? alpha * g / gn : 0.0) - x0;

    // ---- PgdRandomStart ----
    // Row s of x is the global sample gs = firstSample + s; k = 0..D-1 is the element within the sample, and
    // Draw(purpose, gs, k) = Philox.Draw(seed, stream, purpose, gs, k).
    // Linf:  x = clamp(x0 + eps (2 Uniform(Draw(Element, gs, k).X0) - 1), lo, hi)   (float arithmetic)
    // L2:    z_k = Normal(r.X0, r.X1) with r = Draw(Element, gs, k);  u = Uniform(Draw(Sample, gs, 0).X0);
    //        radius = eps u^(1/D) (float, MathF.Pow);  zn = |z| (double);
    //        x = clamp(x0 + radius z / zn, lo, hi), or clamp(x0, lo, hi) where zn == 0.
    // The Gaussian direction is uniform on the sphere and radius eps u^(1/D) makes the point uniform in the ball.
    // z is drawn twice (norm, then write) rather than stored. One thread per sample.
    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, ulong seed, uint stream,
        uint firstSample)
    {
        int n = x.Shape[0], d = (int)x.Shape.PerSample;
        CpuParallel.For(0, n, s =>
        {
            uint sample = firstSample + (uint)s;
            Span<float> xs = x.F().Slice(s * d, d);
            ReadOnlySpan<float> x0s = x0.F().Slice(s * d, d);
            if (norm == PgdNorm.Linf) LinfRandomStart(xs, x0s, p, seed, stream, sample);
            else L2RandomStart(xs, x0s, p, seed, stream, sample);
        });
    }

    /// <summary>PgdRandomStart with the key read from key (Int32[4]) and row s the sample firstSample + ids[s].</summary>
    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, Tensor key, Tensor sampleIds)
    {
        var (seed, stream, firstSample) = KeyWords(key);
        int n = x.Shape[0], d = (int)x.Shape.PerSample;
        int[] ids = sampleIds.I().ToArray();
        CpuParallel.For(0, n, s =>
        {
            uint sample = unchecked(firstSample + (uint)ids[s]);
            Span<float> xs = x.F().Slice(s * d, d);
            ReadOnlySpan<float> x0s = x0.F().Slice(s * d, d);
            if (norm == PgdNorm.Linf) LinfRandomStart(xs, x0s, p, seed, stream, sample);
            else L2RandomStart(xs, x0s, p, seed, stream, sample);
        });
    }

    private static void LinfRandomStart(Span<float> x, ReadOnlySpan<float> x0, PgdParams p, ulong seed, uint stream,
        uint sample)
    {
        for (int k = 0; k < x.Length; k++)
        {
            var r = Philox.Draw(seed, stream, Philox.PurposeElement, sample, (uint)k);
            x[k] = BoxClamp(x0[k] + p.Eps * (2f * Philox.Uniform(r.X0) - 1f), p);
        }
    }

    private static void L2RandomStart(Span<float> x, ReadOnlySpan<float> x0, PgdParams p, ulong seed, uint stream,
        uint sample)
    {
        double zn2 = 0;
        for (int k = 0; k < x.Length; k++)
        {
            double z = GaussianElement(seed, stream, sample, k);
            zn2 += z * z;
        }
        double zn = Math.Sqrt(zn2);
        float u = Philox.Uniform(Philox.Draw(seed, stream, Philox.PurposeSample, sample, 0).X0);
        float radius = p.Eps * MathF.Pow(u, 1f / x.Length);
        for (int k = 0; k < x.Length; k++)
        {
            double offset = zn == 0 ? 0.0 : (double)radius * GaussianElement(seed, stream, sample, k) / zn;
            x[k] = BoxClamp((float)(x0[k] + offset), p);
        }
    }

    private static float GaussianElement(ulong seed, uint stream, uint sample, int k)
    {
        var r = Philox.Draw(seed, stream, Philox.PurposeElement, sample, (uint)k);
        return Philox.Normal(r.X0, r.X1);
    }

    private static float BoxClamp(float v, PgdParams p) => MathF.Min(MathF.Max(v, p.Lo), p.Hi);
}
