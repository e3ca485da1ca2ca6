using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// The CPU PGD step and random start (CpuBackend.Pgd.cs): hand-computed cases, then the invariants every attack
// relies on (eps-ball, [lo, hi] box) and the distribution of the random starts. Shape letters: N samples of D values.
public class PgdStepTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void PgdStep_LinfHandCase_MatchesHandValues()
    {
        // alpha 0.02, eps 0.05, box [0, 1]: free step, clipped to x0 ± eps above and below, sign(0) = 0, and the
        // box winning over the ball at both ends.
        float[] x = [0.50f, 0.54f, 0.50f, 0.46f, 0.50f, 1.00f, 0.00f];
        float[] x0 = [0.50f, 0.50f, 0.50f, 0.50f, 0.50f, 0.98f, 0.02f];
        float[] g = [2f, 3f, -3f, -1f, 0f, 1f, -1f];
        float[] expected = [0.52f, 0.55f, 0.48f, 0.45f, 0.50f, 1.00f, 0.00f];
        using var tx = Tensor.FromArray(Cpu, x, 7);
        using var tx0 = Tensor.FromArray(Cpu, x0, 7);
        using var tg = Tensor.FromArray(Cpu, g, 7);
        Ops.PgdStep(PgdNorm.Linf, tx, tx0, tg, new PgdParams(Alpha: 0.02f, Eps: 0.05f));
        AssertClose.All(expected, tx.ToArray(), 1e-6, 0, "linf step");
    }

    [Test]
    public void PgdStep_L2HandCase_MatchesHandValues()
    {
        // alpha 0.5, eps 0.3, rows of D = 2 (3-4-5 triangles): row 0 steps (0.3, 0.4), |d| = 0.5 is shrunk by 0.6;
        // row 1 steps (0, -0.5) and is shrunk to (0, -0.3); row 2 has a zero gradient and |d| = 0.1 stays; row 3 is
        // shrunk to (0.18, 0.24) and then clipped by the box.
        float[] x = [0.5f, 0.5f, 0.5f, 0.5f, 0.6f, 0.5f, 0.9f, 0.5f];
        float[] x0 = [0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.9f, 0.5f];
        float[] g = [3f, 4f, 0f, -8f, 0f, 0f, 3f, 4f];
        float[] expected = [0.68f, 0.74f, 0.5f, 0.2f, 0.6f, 0.5f, 1.0f, 0.74f];
        Assert.That(L2Step(x, x0, g, 4, new PgdParams(Alpha: 0.5f, Eps: 0.3f)), Is.EqualTo(expected).Within(1e-6f));

        // alpha 0.1, eps 1: a step of length alpha along g / |g| = (-0.6, 0.8), inside the ball, not projected.
        float[] single = L2Step([0.5f, 0.5f], [0.5f, 0.5f], [-6f, 8f], 1, new PgdParams(Alpha: 0.1f, Eps: 1f));
        Assert.That(single, Is.EqualTo(new[] { 0.44f, 0.58f }).Within(1e-6f));
    }

    [TestCase(PgdNorm.Linf, 2f / 255, 8f / 255)]
    [TestCase(PgdNorm.L2, 0.3f, 0.5f)]
    public void PgdStep_RandomSteps_StayInBallAndBox(PgdNorm norm, float alpha, float eps)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 16, d = 3 * 8 * 8;
        var p = new PgdParams(alpha, eps);
        float[] x0 = rng.Uniform(n * d, 0f, 1f);
        using var tx0 = Tensor.FromArray(Cpu, x0, n, 3, 8, 8);
        using var tx = Tensor.FromArray(Cpu, x0, n, 3, 8, 8);
        for (int step = 0; step < 6; step++)
        {
            float[] g = rng.Normal(n * d);
            for (int i = 0; i < g.Length; i += 10) g[i] = 0f;
            using var tg = Tensor.FromArray(Cpu, g, n, 3, 8, 8);
            Ops.PgdStep(norm, tx, tx0, tg, p);
            AssertInBallAndBox(norm, tx.ToArray(), x0, n, p, $"step {step}, seed {rng.Seed}");
        }
        // Six steps add up to more than eps, so the ball must bind: some l-inf offset sits on it; an l2 sample is
        // projected onto it and then only shortened where the box clips a few of its 192 elements.
        double largest = Radii(norm, tx.ToArray(), x0, n).Max();
        double binding = norm == PgdNorm.Linf ? 0.999 : 0.9;
        Assert.That(largest, Is.GreaterThanOrEqualTo(eps * binding), "the eps-ball never bound");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void PgdStep_ZeroGradient_LeavesPointInsideBallUnchanged(PgdNorm norm)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 5, d = 13;
        var p = new PgdParams(Alpha: 0.1f, Eps: 0.2f);
        float[] x0 = rng.Uniform(n * d, 0.3f, 0.7f);
        float[] x = x0.Select((v, i) => v + 0.01f * ((i % 3) - 1)).ToArray();
        using var tx = Tensor.FromArray(Cpu, x, n, d);
        using var tx0 = Tensor.FromArray(Cpu, x0, n, d);
        using var tg = Tensor.Zeros(Cpu, n, d);
        Ops.PgdStep(norm, tx, tx0, tg, p);
        Assert.That(tx.ToArray(), Is.EqualTo(x));
    }

    [TestCase(PgdNorm.Linf, 8f / 255)]
    [TestCase(PgdNorm.L2, 0.5f)]
    public void PgdRandomStart_RandomInput_StaysInBallAndBox(PgdNorm norm, float eps)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 64, d = 3 * 4 * 4;
        var p = new PgdParams(0f, eps);
        float[] x0 = rng.Uniform(n * d, 0f, 1f);
        using var tx0 = Tensor.FromArray(Cpu, x0, n, 3, 4, 4);
        using var tx = Tensor.Zeros(Cpu, n, 3, 4, 4);
        Ops.PgdRandomStart(norm, tx, tx0, p, seed: 7);
        AssertInBallAndBox(norm, tx.ToArray(), x0, n, p, "random start");
    }

    [Test]
    public void PgdRandomStart_Linf_IsUniformInTheCube()
    {
        // x0 = 0.5 and eps = 0.1, so the box never clips. 64 000 draws: the mean's standard error is 2.3e-4 and a
        // bin fraction's is 0.0017, so the bounds below are about 8 and 6 standard errors.
        const int n = 64, d = 1000;
        const float eps = 0.1f;
        float[] delta = RandomStartDeltas(PgdNorm.Linf, n, d, eps, seed: 11);
        Assert.That(delta.Average(v => (double)v), Is.EqualTo(0).Within(2e-3), "mean of delta");
        Assert.That(delta.Max(v => Math.Abs(v)), Is.InRange(0.999 * eps, eps * (1 + 1e-6)), "largest |delta|");
        var bins = new int[4];
        foreach (float v in delta) bins[Math.Min(3, (int)(Math.Abs(v) / eps * 4))]++;
        foreach (int count in bins)
            Assert.That(count / (double)delta.Length, Is.EqualTo(0.25).Within(0.01),
                $"|delta| quarters {string.Join(", ", bins)}");
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void PgdRandomStart_L2_RadiusFollowsPowerLaw(int d)
    {
        // Uniform in the D-ball: P(|delta| <= r eps) = r^D. 8000 samples: standard error <= 0.0056, bound 0.025.
        // The mean offset's standard error is at most 0.0065 eps (D = 1), bound 0.03 eps.
        const int n = 8000;
        const float eps = 0.1f;
        float[] delta = RandomStartDeltas(PgdNorm.L2, n, d, eps, seed: 13);
        double[] radius = Enumerable.Range(0, n).Select(s => Norm(delta.AsSpan(s * d, d)) / eps).ToArray();
        Assert.That(radius.Max(), Is.LessThanOrEqualTo(1 + 1e-5));
        foreach (double r in new[] { 0.3, 0.6, 0.9 })
        {
            double inside = radius.Count(v => v <= r) / (double)n;
            Assert.That(inside, Is.EqualTo(Math.Pow(r, d)).Within(0.025), $"fraction within {r} eps, D = {d}");
        }
        Assert.That(delta.Average(v => (double)v), Is.EqualTo(0).Within(0.03 * eps), "mean offset");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void PgdRandomStart_SameSeed_IsReproducibleAndStreamOrSeedChangeIt(PgdNorm norm)
    {
        float[] a = RandomStartDeltas(norm, 8, 37, 0.3f, seed: 5);
        float[] again = RandomStartDeltas(norm, 8, 37, 0.3f, seed: 5);
        float[] otherStream = RandomStartDeltas(norm, 8, 37, 0.3f, seed: 5, stream: 1);
        float[] otherSeed = RandomStartDeltas(norm, 8, 37, 0.3f, seed: 6);
        Assert.That(again, Is.EqualTo(a));
        Assert.That(CountEqual(a, otherStream), Is.LessThan(a.Length / 100), "another stream gives other noise");
        Assert.That(CountEqual(a, otherSeed), Is.LessThan(a.Length / 100), "another seed gives other noise");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void PgdRandomStart_BatchSplit_MatchesWholeBatch(PgdNorm norm)
    {
        const int n = 64, half = 32, d = 37;
        float[] whole = RandomStartDeltas(norm, n, d, 0.3f, seed: 99, stream: 3);
        float[] first = RandomStartDeltas(norm, half, d, 0.3f, seed: 99, stream: 3, firstSample: 0);
        float[] second = RandomStartDeltas(norm, half, d, 0.3f, seed: 99, stream: 3, firstSample: half);
        Assert.That(first.Concat(second).ToArray(), Is.EqualTo(whole));
    }

    // ---- helpers ----

    private static float[] L2Step(float[] x, float[] x0, float[] g, int n, PgdParams p)
    {
        using var tx = Tensor.FromArray(Cpu, x, n, x.Length / n);
        using var tx0 = Tensor.FromArray(Cpu, x0, n, x.Length / n);
        using var tg = Tensor.FromArray(Cpu, g, n, x.Length / n);
        Ops.PgdStep(PgdNorm.L2, tx, tx0, tg, p);
        return tx.ToArray();
    }

    /// <summary>x - x0 after a random start from x0 = 0.5 with the box [0, 1] (eps &lt;= 0.5 never clips).</summary>
    private static float[] RandomStartDeltas(PgdNorm norm, int n, int d, float eps, ulong seed, uint stream = 0,
        uint firstSample = 0)
    {
        using var tx0 = Tensor.FromArray(Cpu, Enumerable.Repeat(0.5f, n * d).ToArray(), n, d);
        using var tx = Tensor.Zeros(Cpu, n, d);
        Ops.PgdRandomStart(norm, tx, tx0, new PgdParams(0f, eps), seed, stream, firstSample);
        return tx.ToArray().Select(v => v - 0.5f).ToArray();
    }

    private static void AssertInBallAndBox(PgdNorm norm, float[] x, float[] x0, int n, PgdParams p, string what)
    {
        Assert.That(x.Min(), Is.GreaterThanOrEqualTo(p.Lo), $"{what}: below the box");
        Assert.That(x.Max(), Is.LessThanOrEqualTo(p.Hi), $"{what}: above the box");
        double limit = norm == PgdNorm.Linf ? p.Eps + 1e-6 : p.Eps * (1 + 1e-5);
        Assert.That(Radii(norm, x, x0, n).Max(), Is.LessThanOrEqualTo(limit), $"{what}: outside the eps-ball");
    }

    /// <summary>Per-sample |x - x0| in the attack's norm, in double.</summary>
    private static double[] Radii(PgdNorm norm, float[] x, float[] x0, int n)
    {
        int d = x.Length / n;
        var radii = new double[n];
        for (int s = 0; s < n; s++)
        {
            double acc = 0;
            for (int k = s * d; k < (s + 1) * d; k++)
            {
                double e = (double)x[k] - x0[k];
                acc = norm == PgdNorm.Linf ? Math.Max(acc, Math.Abs(e)) : acc + e * e;
            }
            radii[s] = norm == PgdNorm.Linf ? acc : Math.Sqrt(acc);
        }
        return radii;
    }

    private static double Norm(ReadOnlySpan<float> v)
    {
        double acc = 0;
        foreach (float e in v) acc += (double)e * e;
        return Math.Sqrt(acc);
    }

    private static int CountEqual(float[] a, float[] b) => a.Where((v, i) => v == b[i]).Count();
}
