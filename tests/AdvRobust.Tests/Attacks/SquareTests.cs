using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Data;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// Square Attack (Core/Attacks/Square.cs, SquareL2.cs), l-inf and l2: its schedule and window helpers against the
// reference, that it is score-based (never a backward op), its invariants, and independence of the batch. Shape
// letters: N samples of C×H×W pixels.
public class SquareTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    [Test]
    public void Square_PSchedule_HalvesAfterReferenceIterations()
    {
        // square.py p_selection: p_init up to it = 10, then /2 on (10, 50], /4 on (50, 200], ..., /512 above 8000.
        int[] its = [0, 10, 11, 50, 51, 200, 201, 500, 501, 1000, 1001, 2000, 2001, 4000, 4001, 6000, 6001, 8000, 8001];
        float[] divisors = [1, 1, 2, 2, 4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 512];
        for (int i = 0; i < its.Length; i++)
            Assert.That(Square.P(its[i], 0.8f, 10000, rescale: false), Is.EqualTo(0.8f / divisors[i]), $"{its[i]}");
        // resc_schedule: it ← int(it / n_queries · 10000); with 1000 queries iteration 2 acts as 20.
        Assert.That(Square.P(1, 0.8f, 1000, rescale: true), Is.EqualTo(0.8f));
        Assert.That(Square.P(2, 0.8f, 1000, rescale: true), Is.EqualTo(0.4f));
    }

    [Test]
    public void Square_Side_RoundsLikePythonAndFitsImage()
    {
        Assert.That(Square.Side(0.8f, 8, 8), Is.EqualTo(7), "√51.2 = 7.16");
        Assert.That(Square.Side(0.05f, 8, 8), Is.EqualTo(2), "√3.2 = 1.79");
        Assert.That(Square.Side(0.001f, 8, 8), Is.EqualTo(1), "at least 1");
        Assert.That(Square.Side(0.09765625f, 8, 8), Is.EqualTo(2), "√6.25 = 2.5 rounds half to even");
        Assert.That(Square.Side(1f, 8, 4), Is.EqualTo(4), "at most min(H, W)");
    }

    [Test]
    public void Square_BackendForbiddingBackward_RunsWithForwardPassesOnly()
    {
        const int n = 12, k = 4, d = 3 * 6 * 6;
        var rng = Rng();
        var backend = new NoBackwardBackend();
        var model = new LinearClassifier(backend, rng.Normal(k * d, 0.3f), rng.Normal(k, 0.1f), 3, 6, 6);
        float[] x = rng.Uniform(n * d, 0f, 1f);
        using var tx = Tensor.FromArray(backend, x, n, 3, 6, 6);
        int[] y = AttackData.Predict(model, tx);
        using var ty = Tensor.FromArray(backend, y, n);
        int before = backend.ForwardCalls;
        using var result = new Square(new SquareSettings(0.05f, Queries: 60, Seed: 3)).Run(model, tx, ty, 0u);
        Assert.That(backend.ForwardCalls - before, Is.GreaterThan(10), "the attack should query the model");
        AttackData.AssertInBallAndBox(result.Adversarial, tx, PgdNorm.Linf, 0.05f);
        // Positive control: a gradient attack on the same backend does reach a backward op and is stopped.
        var pgd = new Pgd(new PgdSettings(PgdNorm.Linf, 0.05f, 0.01f, Steps: 1));
        Assert.Throws<InvalidOperationException>(() => pgd.Run(model, tx, ty, 0u).Dispose());
    }

    [Test]
    public void Square_EasyLinearModel_FoolsEverySampleInsideBall()
    {
        const int n = 16, k = 3, d = 3 * 8 * 8;
        var rng = Rng();
        var model = new LinearClassifier(Cpu, rng.Normal(k * d, 0.2f), rng.Normal(k, 0.1f), 3, 8, 8);
        float[] x = rng.Uniform(n * d, 0.2f, 0.8f);
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        int[] y = AttackData.Predict(model, tx);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var result = new Square(new SquareSettings(0.2f, Queries: 300, Seed: 1)).Run(model, tx, ty, 0u);
        Assert.That(result.Success, Is.All.True);
        Assert.That(AttackData.Predict(model, result.Adversarial).Zip(y).All(p => p.First != p.Second), Is.True);
        AttackData.AssertInBallAndBox(result.Adversarial, tx, PgdNorm.Linf, 0.2f);
        // The reported loss is the CW margin max_{j≠y} z_j − z_y at the returned point, > 0 once fooled.
        Assert.That(result.Loss, Is.All.GreaterThanOrEqualTo(0f));
    }

    [Test]
    public void Square_SubsetWithScatteredIds_SameRowsAsWholeBatch()
    {
        const int n = 18, d = 192;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        var square = new Square(new SquareSettings(0.03f, Queries: 40, Restarts: 2, Seed: 6));
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var whole = square.Run(model, tx, ty, 0u);
        int[] rows = [0, 2, 5, 6, 11, 17];
        using var sx = Tensor.FromArray(Cpu, AttackData.Rows(x, rows, d), rows.Length, 3, 8, 8);
        using var sy = Tensor.FromArray(Cpu, rows.Select(r => y[r]).ToArray(), rows.Length);
        using var part = square.Run(model, sx, sy, rows.Select(r => (uint)r).ToArray());
        float[] all = whole.Adversarial.ToArray(), sub = part.Adversarial.ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.That(AttackData.Row(sub, i, d), Is.EqualTo(AttackData.Row(all, rows[i], d)), $"row {rows[i]}");
            Assert.That(part.Success[i], Is.EqualTo(whole.Success[rows[i]]));
        }
        Assert.That(whole.SuccessCount, Is.InRange(1, n - 1), "eps should fool some samples, not all");
    }

    // ---- l2 (Core/Attacks/SquareL2.cs): window shapes and sizes on values worked out by hand from square.py's
    // eta_rectangles / eta / attack_single_run formulas, invariants on awkward image sizes, that it fools a linear
    // model exactly where an l2 perturbation of its size can, and its independence of the batch.

    private static Square L2(float eps, int queries, int restarts = 1, ulong seed = 0) =>
        new(new SquareSettings(eps, Queries: queries, Restarts: restarts, Seed: seed, Norm: PgdNorm.L2));

    [Test]
    public void Square_Settings_NormDefaultsToLinfAndIsReported()
    {
        Assert.That(new SquareSettings(0.1f).Norm, Is.EqualTo(PgdNorm.Linf));
        Assert.That(new Square(new SquareSettings(0.1f)).Norm, Is.EqualTo(PgdNorm.Linf));
        Assert.That(L2(0.5f, 10).Norm, Is.EqualTo(PgdNorm.L2));
        Assert.That(L2(0.5f, 10).Name, Is.EqualTo("square"));
        Assert.Throws<ArgumentException>(() => new Square(new SquareSettings(0.1f, Norm: (PgdNorm)7)));
    }

    [Test]
    public void SquareL2_Side_OddAtLeastThreeAndFitsImage()
    {
        // square.py L2: s = max(int(round(sqrt(p · n_features / c))), 3), then s += 1 when s is even.
        Assert.That(SquareL2.Side(0.8f, 32, 32), Is.EqualTo(29), "√819.2 = 28.6");
        Assert.That(SquareL2.Side(0.05f, 32, 32), Is.EqualTo(7), "√51.2 = 7.16");
        Assert.That(SquareL2.Side(0.1f, 32, 32), Is.EqualTo(11), "√102.4 = 10.1, even → 11");
        Assert.That(SquareL2.Side(0.8f / 512, 32, 32), Is.EqualTo(3), "√1.6 = 1.26, at least 3");
        Assert.That(SquareL2.Side(81f / 256, 8, 8), Is.EqualTo(5), "√20.25 = 4.5 rounds half to even: 4 → 5");
        Assert.That(SquareL2.Side(121f / 256, 8, 8), Is.EqualTo(7), "√30.25 = 5.5 rounds half to even: 6 → 7");
        // Capped at min(H, W) (the reference would slice past the border).
        Assert.That(SquareL2.Side(1f, 13, 11), Is.EqualTo(11), "√143 = 11.96 → 12 → 13, capped at 11");
        Assert.That(SquareL2.Side(0.8f, 4, 4), Is.EqualTo(4), "√12.8 = 3.58 → 4 → 5, capped at 4");
    }

    [Test]
    public void SquareL2_InitWindows_TileLikeReference()
    {
        // square.py: s = h // 5, sp_init = (h − 5s) // 2, h // s windows from sp_init at stride s.
        Assert.That(SquareL2.InitSide(32, 32), Is.EqualTo(6));
        Assert.That(SquareL2.InitStarts(32, 6), Is.EqualTo(new[] { 1, 7, 13, 19, 25 }));
        Assert.That(SquareL2.InitSide(28, 28), Is.EqualTo(5));
        Assert.That(SquareL2.InitStarts(28, 5), Is.EqualTo(new[] { 1, 6, 11, 16, 21 }));
        Assert.That(SquareL2.InitStarts(13, 2), Is.EqualTo(new[] { 1, 3, 5, 7, 9, 11 }), "13 // 2 = 6 windows fit");
        // Here the reference's seventh window would start at 14, past the border: it is skipped.
        Assert.That(SquareL2.InitStarts(14, 2), Is.EqualTo(new[] { 2, 4, 6, 8, 10, 12 }));
        // Non-square and tiny images: the side comes from min(H, W), each axis centred on its own length.
        Assert.That(SquareL2.InitSide(13, 11), Is.EqualTo(2));
        Assert.That(SquareL2.InitStarts(11, 2), Is.EqualTo(new[] { 0, 2, 4, 6, 8 }));
        Assert.That(SquareL2.InitSide(4, 4), Is.EqualTo(1));
        Assert.That(SquareL2.InitStarts(4, 1), Is.EqualTo(new[] { 0, 1, 2, 3 }));
    }

    [Test]
    public void SquareL2_EtaRectangles_NestedRectanglesOnHandValues()
    {
        // eta_rectangles(3, 3): 1/1² on the centre, then 1/2² on the 3×3 rectangle around it.
        double n33 = Math.Sqrt(8 * 0.0625 + 1.5625);
        AssertClose(SquareL2.EtaRectangles(3, 3),
            new[] { .25, .25, .25, .25, 1.25, .25, .25, .25, .25 }.Select(v => v / n33));
        // eta_rectangles(1, 2): centre (0, 1); the radius-1 rectangle clipped to the single row.
        AssertClose(SquareL2.EtaRectangles(1, 2), new[] { .25 / Math.Sqrt(1.625), 1.25 / Math.Sqrt(1.625) });
        // eta_rectangles(2, 5): centre (1, 2), radii 0, 1, 2 with weights 1, 1/4, 1/9 (in 36ths: 36, 9, 4).
        double[] rho25 = [4, 13, 13, 13, 4, 4, 13, 49, 13, 4];
        double n25 = Math.Sqrt(rho25.Sum(v => v * v));
        AssertClose(SquareL2.EtaRectangles(2, 5), rho25.Select(v => v / n25));
        Assert.That(SquareL2.EtaRectangles(0, 3), Is.Empty);
    }

    [Test]
    public void SquareL2_Eta_PositiveOverNegativeHalfWithUnitNorm()
    {
        // eta(3): the top row is eta_rectangles(1, 3), the two bottom rows −eta_rectangles(2, 3); each half has unit
        // norm, so the renormalization divides by √2.
        double top = Math.Sqrt(1.6875) * Math.Sqrt(2), bottom = Math.Sqrt(1.875) * Math.Sqrt(2);
        AssertClose(SquareL2.Eta(3), new[]
        {
            .25 / top, 1.25 / top, .25 / top,
            -.25 / bottom, -.25 / bottom, -.25 / bottom,
            -.25 / bottom, -1.25 / bottom, -.25 / bottom,
        });
        // eta(2) = [eta_rectangles(1, 2); −eta_rectangles(1, 2)] / √2; eta(1) = −[1] (its top half is empty).
        double r = Math.Sqrt(1.625) * Math.Sqrt(2);
        AssertClose(SquareL2.Eta(2), new[] { .25 / r, 1.25 / r, -.25 / r, -1.25 / r });
        AssertClose(SquareL2.Eta(1), new[] { -1.0 });
        for (int s = 1; s <= 33; s++)
        {
            double[] eta = SquareL2.Eta(s);
            Assert.That(eta.Sum(v => v * v), Is.EqualTo(1).Within(1e-12), $"unit norm at s = {s}");
            Assert.That(eta.Take(s / 2 * s), Is.All.GreaterThan(0), $"top half positive at s = {s}");
            Assert.That(eta.Skip(s / 2 * s), Is.All.LessThan(0), $"bottom half negative at s = {s}");
        }
    }

    [Test]
    public void SquareL2_CandidateFromZeroPerturbation_IsOneEtaWindowPerChannelOnTheSphere()
    {
        // δ = 0: the free budget is eps², so every channel's window gets ±η(s)·eps/√C and the rest stays at x.
        const int c = 3, h = 9, w = 7, s = 5, d = c * h * w;
        const float eps = 0.6f;
        float[] x0 = Enumerable.Repeat(0.5f, d).ToArray(), candidate = new float[d];
        double[] eta = SquareL2.Eta(s);
        for (int it = 0; it < 20; it++)
        {
            SquareL2.Candidate(x0, x0, candidate, c, h, w, s, eta, eps, seed: 4, stream: 0, id: 11, it,
                new double[d], new double[s * s]);
            double[] delta = candidate.Select((v, e) => (double)v - x0[e]).ToArray();
            Assert.That(Math.Sqrt(delta.Sum(v => v * v)), Is.EqualTo(eps).Within(1e-6));
            int first = Array.FindIndex(delta, v => v != 0);
            int vh = first / w, vw = first % w;
            Assert.That((vh + s <= h, vw + s <= w), Is.EqualTo((true, true)), "the window lies inside the image");
            for (int ch = 0; ch < c; ch++)
            {
                var window = new double[s * s];
                for (int i = 0; i < s; i++)
                    for (int j = 0; j < s; j++)
                        window[i * s + j] = delta[(ch * h + vh + i) * w + vw + j] * Math.Sqrt(c) / eps;
                double[] transposed = Enumerable.Range(0, s * s).Select(e => window[e % s * s + e / s]).ToArray();
                bool matches = new[] { window, transposed }.Any(m => new[] { 1.0, -1.0 }.Any(sign =>
                    m.Zip(eta).All(p => Math.Abs(p.First - sign * p.Second) < 1e-5)));
                Assert.That(matches, Is.True, $"query {it}, channel {ch}: window is not ±η or ±ηᵀ");
            }
            Assert.That(delta.Count(v => v != 0), Is.EqualTo(c * s * s), "nothing changes outside the window");
        }
    }

    [Test]
    public void SquareL2_CandidateOnTheSphere_MovesMassBetweenTwoWindowsOnly()
    {
        // One channel with ‖δ‖ = eps: no free budget, so W₁ gets exactly the energy of W₁ ∪ W₂, W₂ is emptied and the
        // final rescaling is the identity: pixels outside the two windows keep their value, ‖δ‖ stays eps.
        const int h = 9, w = 9, s = 3, d = h * w;
        const float eps = 0.3f;
        var rng = Rng();
        float[] x0 = Enumerable.Repeat(0.5f, d).ToArray(), noise = rng.Normal(d), candidate = new float[d];
        double norm = Math.Sqrt(noise.Sum(v => (double)v * v));
        float[] best = x0.Select((v, e) => (float)(v + eps * noise[e] / norm)).ToArray();
        double[] eta = SquareL2.Eta(s);
        for (int it = 0; it < 20; it++)
        {
            SquareL2.Candidate(x0, best, candidate, 1, h, w, s, eta, eps, seed: 9, stream: 1, id: 3, it,
                new double[d], new double[s * s]);
            double after = Math.Sqrt(candidate.Select((v, e) => ((double)v - x0[e]) * (v - x0[e])).Sum());
            Assert.That(after, Is.EqualTo(eps).Within(1e-5), $"query {it}");
            int changed = candidate.Zip(best).Count(p => Math.Abs(p.First - p.Second) > 1e-6);
            Assert.That(changed, Is.InRange(1, 2 * s * s), $"query {it}: changes outside two {s}×{s} windows");
        }
    }

    [TestCase(3, 13, 11, 0.5f)]
    [TestCase(3, 13, 11, 4f)]
    [TestCase(2, 14, 14, 1f)]
    [TestCase(1, 4, 4, 1f)]
    public void SquareL2_AwkwardSizes_StaysInL2BallAndBoxAndReportsTruthfully(int c, int h, int w, float eps)
    {
        const int n = 10;
        int d = c * h * w;
        var rng = Rng();
        var model = new Mlp(Cpu, rng, hidden: 16, classes: 4, c, h, w);
        float[] x = rng.Uniform(n * d, 0f, 1f);
        for (int e = 0; e < x.Length; e += 7) x[e] = e % 2 == 0 ? 0f : 1f; // pixels on the box's faces
        using var tx = Tensor.FromArray(Cpu, x, n, c, h, w);
        int[] y = AttackData.Predict(model, tx);
        y[0] = (y[0] + 1) % 4; // a clean-misclassified point: not attacked, returned as is
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var result = L2(eps, queries: 60, restarts: 2, seed: 2).Run(model, tx, ty, 0u);
        AttackData.AssertInBallAndBox(result.Adversarial, tx, PgdNorm.L2, eps);
        int[] pred = AttackData.Predict(model, result.Adversarial);
        for (int i = 0; i < n; i++)
            Assert.That(result.Success[i], Is.EqualTo(pred[i] != y[i]), $"sample {i}: success flag vs prediction");
        Assert.That(AttackData.Row(result.Adversarial.ToArray(), 0, d), Is.EqualTo(AttackData.Row(x, 0, d)));
    }

    [Test]
    public void SquareL2_LinearModel_FoolsWhereTheL2RadiusAmplySufficesAndNeverWhereItCannot()
    {
        // z = W·x + b: within l2 radius eps, sample i can be flipped iff eps ≥ eps*_i = min_{j≠y} m_ij/‖w_y − w_j‖
        // (the [0, 1] box only removes options; x ∈ [0.3, 0.7] keeps it mostly out of the way). With eps three times
        // the median eps*, every sample with eps*_i ≤ eps/3 is fooled (random search needs room in 192 dimensions);
        // with half the smallest eps* none can be, and the attack must not claim otherwise.
        const int n = 12, k = 3, c = 3, h = 8, w = 8, d = c * h * w;
        var rng = Rng();
        var model = new LinearClassifier(Cpu, rng.Normal(k * d, 0.2f), rng.Normal(k, 0.1f), c, h, w);
        float[] x = rng.Uniform(n * d, 0.3f, 0.7f);
        using var tx = Tensor.FromArray(Cpu, x, n, c, h, w);
        int[] y = AttackData.Predict(model, tx);
        using var ty = Tensor.FromArray(Cpu, y, n);
        var epsStar = new double[n];
        for (int i = 0; i < n; i++)
        {
            double[] z = model.HostLogits(x.AsSpan(i * d, d));
            epsStar[i] = Enumerable.Range(0, k).Where(j => j != y[i]).Min(j =>
            {
                double norm = Math.Sqrt(Enumerable.Range(0, d)
                    .Sum(e => Math.Pow(model.Weight[y[i] * d + e] - model.Weight[j * d + e], 2)));
                return (z[y[i]] - z[j]) / norm;
            });
        }
        float big = (float)(3 * epsStar.Order().ElementAt(n / 2)), small = (float)(0.5 * epsStar.Min());

        using var attacked = L2(big, queries: 1000, seed: 1).Run(model, tx, ty, 0u);
        int[] pred = AttackData.Predict(model, attacked.Adversarial);
        AttackData.AssertInBallAndBox(attacked.Adversarial, tx, PgdNorm.L2, big);
        int easy = 0;
        for (int i = 0; i < n; i++)
        {
            Assert.That(attacked.Success[i], Is.EqualTo(pred[i] != y[i]), $"sample {i}: success flag vs prediction");
            if (3 * epsStar[i] > big) continue;
            easy++;
            Assert.That(attacked.Success[i], Is.True, $"sample {i}: eps* = {epsStar[i]:G4}, eps = {big:G4}");
            Assert.That(attacked.Loss[i], Is.GreaterThanOrEqualTo(0f), "CW margin at a fooled point");
        }
        Assert.That(easy, Is.GreaterThanOrEqualTo(n / 2));

        using var safe = L2(small, queries: 200, restarts: 2, seed: 1).Run(model, tx, ty, 0u);
        Assert.That(safe.Success, Is.All.False);
        Assert.That(AttackData.Predict(model, safe.Adversarial), Is.EqualTo(y));
        AttackData.AssertInBallAndBox(safe.Adversarial, tx, PgdNorm.L2, small);
        Assert.That(safe.Loss, Is.All.LessThan(0f), "CW margin of a point still classified correctly");
    }

    [Test]
    public void SquareL2_BackendForbiddingBackward_RunsWithForwardPassesOnly()
    {
        const int n = 8, k = 4, d = 3 * 6 * 6;
        var rng = Rng();
        var backend = new NoBackwardBackend();
        var model = new LinearClassifier(backend, rng.Normal(k * d, 0.3f), rng.Normal(k, 0.1f), 3, 6, 6);
        using var tx = Tensor.FromArray(backend, rng.Uniform(n * d, 0f, 1f), n, 3, 6, 6);
        using var ty = Tensor.FromArray(backend, AttackData.Predict(model, tx), n);
        int before = backend.ForwardCalls;
        using var result = L2(0.3f, queries: 60, seed: 3).Run(model, tx, ty, 0u);
        Assert.That(backend.ForwardCalls - before, Is.GreaterThan(10), "the attack should query the model");
        AttackData.AssertInBallAndBox(result.Adversarial, tx, PgdNorm.L2, 0.3f);
    }

    [Test]
    public void SquareL2_SameSeedAndAnyBatchSplit_SameRows()
    {
        const int n = 18, d = 192;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        var square = L2(0.4f, queries: 40, restarts: 2, seed: 6);
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var whole = square.Run(model, tx, ty, 0u);
        using var again = square.Run(model, tx, ty, 0u);
        float[] all = whole.Adversarial.ToArray();
        Assert.That(again.Adversarial.ToArray(), Is.EqualTo(all), "same seed, same result");
        Assert.That(whole.SuccessCount, Is.InRange(1, n - 1), "eps should fool some samples, not all");
        using var other = L2(0.4f, queries: 40, restarts: 2, seed: 7).Run(model, tx, ty, 0u);
        Assert.That(other.Adversarial.ToArray(), Is.Not.EqualTo(all), "another seed, other draws");

        // Batches of 5, 5, 5, 3, and a scattered subset: each sample keeps its draws (keyed by its id).
        int[][] splits = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17], [17, 2, 11, 6, 0]];
        foreach (int[] rows in splits)
        {
            using var sx = Tensor.FromArray(Cpu, AttackData.Rows(x, rows, d), rows.Length, 3, 8, 8);
            using var sy = Tensor.FromArray(Cpu, rows.Select(r => y[r]).ToArray(), rows.Length);
            using var part = square.Run(model, sx, sy, rows.Select(r => (uint)r).ToArray());
            float[] sub = part.Adversarial.ToArray();
            for (int i = 0; i < rows.Length; i++)
            {
                Assert.That(AttackData.Row(sub, i, d), Is.EqualTo(AttackData.Row(all, rows[i], d)), $"row {rows[i]}");
                Assert.That(part.Success[i], Is.EqualTo(whole.Success[rows[i]]));
                Assert.That(part.Loss[i], Is.EqualTo(whole.Loss[rows[i]]));
            }
        }
    }

    [Test]
    public void SquareL2_InRobustEvaluation_PassesItsBallCheck()
    {
        // RobustEvaluation re-checks every returned point against the attack's own norm and eps and throws otherwise.
        const int n = 24;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        var data = new LabeledImages(n, 3, 8, 8, x, y, 10, "synthetic");
        var result = new RobustEvaluation([L2(1f, queries: 30, seed: 1)], batchSize: 7).Run(model, data);
        var report = result.Attacks[0];
        Assert.That((report.Name, report.Norm), Is.EqualTo(("square", PgdNorm.L2)));
        Assert.That(report.MaxPerturbation, Is.InRange(0.5f, 1f * (1 + 1e-5f)));
        Assert.That(result.RobustCorrect, Is.LessThanOrEqualTo(result.CleanCorrect));
    }

    private static void AssertClose(double[] actual, IEnumerable<double> expected)
    {
        double[] e = expected.ToArray();
        Assert.That(actual.Length, Is.EqualTo(e.Length));
        for (int i = 0; i < e.Length; i++) Assert.That(actual[i], Is.EqualTo(e[i]).Within(1e-12), $"entry {i}");
    }
}
