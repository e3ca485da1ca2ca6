using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// FAB-T (Core/Attacks/Fab.cs, FabProjection.cs): the projection onto hyperplane ∩ box against hand-solved cases and a
// brute-force search, then the attack on linear models whose minimal perturbations are known in closed form, and its
// invariants (eps-ball, [0, 1], flags, seeds, batch independence, eval mode, no weight gradient). Shape letters: N
// samples of 1×4×4 or 3×8×8 pixels, D pixels per sample, K classes.
public class FabTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static double[] Project(PgdNorm norm, float[] t, float[] w, double b)
    {
        var d = new double[t.Length];
        FabProjection.Project(norm, t, w, b, d);
        return d;
    }

    private static double Length(double[] v, PgdNorm norm) =>
        norm == PgdNorm.Linf ? v.Max(Math.Abs) : Math.Sqrt(v.Sum(e => e * e));

    private static double Dot(float[] w, float[] t, double[] d) => w.Select((wi, i) => wi * (t[i] + d[i])).Sum();

    // ---- projections ----

    [Test]
    public void Projection_Linf_HandSolvedCases()
    {
        // w·t = 1 > b = 0.6: both coordinates move down by λ with 2λ = 0.4.
        Assert.That(Project(PgdNorm.Linf, [0.5f, 0.5f], [1f, 1f], 0.6), Is.EqualTo(new[] { -0.2, -0.2 }).Within(1e-7));
        // t₁ = 0.05 stops at 0: min(λ, 0.05) + λ = w·t − b = 0.2, so λ = 0.15.
        Assert.That(Project(PgdNorm.Linf, [0.05f, 0.5f], [1f, 1f], 0.35),
            Is.EqualTo(new[] { -0.05, -0.15 }).Within(1e-7));
        // w·t = 0 < b = 0.3: the gap closes upward, coordinate 1 up and coordinate 2 (negative weight) down.
        Assert.That(Project(PgdNorm.Linf, [0.5f, 0.5f], [1f, -1f], 0.3),
            Is.EqualTo(new[] { 0.15, -0.15 }).Within(1e-7));
        // Weights scale the share: |w|·λ summed = 0.6 with w = (2, −1): λ = 0.2.
        Assert.That(Project(PgdNorm.Linf, [0.5f, 0.5f], [2f, -1f], -0.1), Is.EqualTo(new[] { -0.2, 0.2 }).Within(1e-7));
        // A zero weight never moves; already on the hyperplane: no step.
        Assert.That(Project(PgdNorm.Linf, [0.5f, 0.2f], [1f, 0f], 0.4), Is.EqualTo(new[] { -0.1, 0.0 }).Within(1e-7));
        Assert.That(Project(PgdNorm.Linf, [0.5f, 0.5f], [1f, 1f], 1.0), Is.EqualTo(new[] { 0.0, 0.0 }).Within(1e-12));
        // The hyperplane misses the box (w·x ≥ 0 on it, b = −1): the corner closest to it, (0, 0).
        Assert.That(Project(PgdNorm.Linf, [0.5f, 0.25f], [1f, 1f], -1.0),
            Is.EqualTo(new[] { -0.5, -0.25 }).Within(1e-7));
    }

    [Test]
    public void Projection_L2_HandSolvedCases()
    {
        // Interior: d = −(w·t − b)·w/‖w‖² = −(1.5 − 0.5)/5·(1, 2).
        Assert.That(Project(PgdNorm.L2, [0.5f, 0.5f], [1f, 2f], 0.5), Is.EqualTo(new[] { -0.2, -0.4 }).Within(1e-7));
        // t₂ = 0.3 would go to −0.1: it stops at 0 (closing 2·0.3 = 0.6) and coordinate 1 closes the remaining 0.4.
        Assert.That(Project(PgdNorm.L2, [0.5f, 0.3f], [1f, 2f], 0.1), Is.EqualTo(new[] { -0.4, -0.3 }).Within(1e-6));
        // Upward: w·t − b = −0.5, d = 0.5·w/‖w‖² with w = (1, −1).
        Assert.That(Project(PgdNorm.L2, [0.5f, 0.5f], [1f, -1f], 0.5), Is.EqualTo(new[] { 0.25, -0.25 }).Within(1e-7));
        // |w₂| ≤ 1e-8 is held fixed (the reference's mask).
        Assert.That(Project(PgdNorm.L2, [0.5f, 0.5f], [2f, 1e-9f], 0.6), Is.EqualTo(new[] { -0.2, 0.0 }).Within(1e-7));
        // Misses the box: the closest corner.
        Assert.That(Project(PgdNorm.L2, [0.5f, 0.7f], [1f, -1f], 5.0), Is.EqualTo(new[] { 0.5, -0.7 }).Within(1e-7));
    }

    [TestCase(PgdNorm.Linf, 2)]
    [TestCase(PgdNorm.Linf, 3)]
    [TestCase(PgdNorm.L2, 2)]
    [TestCase(PgdNorm.L2, 3)]
    public void Projection_TinyDimensions_FeasibleInBoxAndMinimalByBruteForce(PgdNorm norm, int dims)
    {
        var rng = Rng();
        int feasibleCases = 0, boxActive = 0;
        for (int c = 0; c < 40; c++)
        {
            float[] t = rng.Uniform(dims, 0f, 1f), w = rng.Normal(dims);
            // b between w·t and w·(a corner) mostly, so the box often binds; some cases miss the box.
            double wt = w.Select((wi, i) => (double)wi * t[i]).Sum();
            double b = wt + rng.Normal(1, 1f)[0];
            double[] d = Project(norm, t, w, b);
            for (int i = 0; i < dims; i++)
                Assert.That(t[i] + d[i], Is.InRange(-1e-12, 1 + 1e-12), $"case {c}: coordinate {i} leaves the box");
            double best = BruteForceMinimum(norm, t, w, b, out bool feasible);
            if (!feasible)
            {
                // The hyperplane misses the box: the returned point is the corner where w·x is closest to b.
                double closest = Corners(dims).Min(v => Math.Abs(w.Select((wi, i) => wi * v[i]).Sum() - b));
                Assert.That(Math.Abs(Dot(w, t, d) - b), Is.EqualTo(closest).Within(1e-9), $"case {c}: not the corner");
                continue;
            }
            feasibleCases++;
            if (Enumerable.Range(0, dims).Any(i => t[i] + d[i] is < 1e-9 or > 1 - 1e-9)) boxActive++;
            Assert.That(Dot(w, t, d), Is.EqualTo(b).Within(1e-9 * (1 + Math.Abs(b))), $"case {c}: off the hyperplane");
            // The brute-force search runs over a grid, so its minimum sits a little above the true one.
            double tolerance = dims == 2 ? 2e-4 : 4e-3;
            Assert.That(Length(d, norm), Is.LessThanOrEqualTo(best + 1e-12), $"case {c}: a shorter step exists");
            Assert.That(Length(d, norm), Is.GreaterThan(best - tolerance), $"case {c}: grid minimum far below");
        }
        Assert.That(feasibleCases, Is.GreaterThan(10), "too few feasible cases to test anything");
        Assert.That(boxActive, Is.GreaterThan(0), "no case where the box binds");
    }

    [Test]
    public void Projection_Linf_NoShorterStepReachesTheHyperplane()
    {
        // In D = 40: G(μ) = Σ|w_i|·min(μ, room_i) is the most any step of l-inf norm ≤ μ in the box can change w·x, so
        // λ = ‖d‖∞ is minimal iff G(λ·(1 − 1e-6)) < |w·t − b| ≤ G(λ).
        var rng = Rng();
        for (int c = 0; c < 20; c++)
        {
            float[] t = rng.Uniform(40, 0f, 1f), w = rng.Normal(40);
            double wt = w.Select((wi, i) => (double)wi * t[i]).Sum(), gap = 3 * rng.Uniform(1, 0f, 1f)[0];
            double b = c % 2 == 0 ? wt - gap : wt + gap;
            double[] d = Project(PgdNorm.Linf, t, w, b);
            double lambda = Length(d, PgdNorm.Linf);
            double G(double mu) => w.Select((wi, i) =>
                Math.Abs(wi) * Math.Min(mu, (wi > 0) == (b < wt) ? t[i] : 1 - t[i])).Sum();
            Assert.That(G(lambda * (1 - 1e-6)), Is.LessThan(gap), $"case {c}");
            Assert.That(Math.Abs(Dot(w, t, d) - b), Is.LessThan(1e-9), $"case {c}");
        }
    }

    /// <summary>min ‖x − t‖ over x in [0, 1]^D with w·x = b, on a grid (the coordinate of largest |w|
    /// solved).</summary>
    private static double BruteForceMinimum(PgdNorm norm, float[] t, float[] w, double b, out bool feasible)
    {
        int dims = t.Length, solve = Enumerable.Range(0, dims).MaxBy(i => Math.Abs(w[i]));
        int[] free = Enumerable.Range(0, dims).Where(i => i != solve).ToArray();
        int steps = dims == 2 ? 20000 : 1000;
        double best = double.PositiveInfinity;
        var x = new double[dims];
        int total = (int)Math.Pow(steps + 1, free.Length);
        for (int g = 0; g < total; g++)
        {
            int rest = g;
            double partial = 0;
            foreach (int i in free)
            {
                x[i] = (double)(rest % (steps + 1)) / steps;
                rest /= steps + 1;
                partial += w[i] * x[i];
            }
            x[solve] = (b - partial) / w[solve];
            if (x[solve] < 0 || x[solve] > 1) continue;
            double s = 0;
            for (int i = 0; i < dims; i++)
            {
                double diff = Math.Abs(x[i] - t[i]);
                s = norm == PgdNorm.Linf ? Math.Max(s, diff) : s + diff * diff;
            }
            best = Math.Min(best, norm == PgdNorm.Linf ? s : Math.Sqrt(s));
        }
        feasible = !double.IsPositiveInfinity(best);
        return best;
    }

    private static IEnumerable<double[]> Corners(int dims) =>
        Enumerable.Range(0, 1 << dims)
            .Select(m => Enumerable.Range(0, dims).Select(i => (double)((m >> i) & 1)).ToArray());

    // ---- one step ----

    [TestCase(PgdNorm.Linf, 0.1f, 0.3035f)]
    [TestCase(PgdNorm.Linf, 0.5f, 0.3f)]
    [TestCase(PgdNorm.L2, 0.1f, 0.3035f)]
    public void Step_HandSolved_BiasTowardOriginCappedAtAlphaMax(PgdNorm norm, float alphaMax, float expected)
    {
        // x = (0.5, 0.5), iterate (0.2, 0.2), f = −0.2 there and w = (1, 1): the boundary is x₁ + x₂ = 0.6.
        // d₁ = (0.1, 0.1) from the iterate, d₂ = (−0.2, −0.2) from x (l-inf and l2 alike on this diagonal), so
        // a₁/(a₁ + a₂) = 1/3: α = min(1/3, α_max) and the step lands at (1 − α)(0.2 + 1.05·0.1) + α(0.5 − 1.05·0.2)
        // = 0.3035 for α = 0.1 and 0.3 for α = 1/3.
        float[] x1 = [0.2f, 0.2f];
        Fab.Step(new FabSettings(norm, 1f, AlphaMax: alphaMax), x1, [0.5f, 0.5f], [1f, 1f], -0.2f);
        Assert.That(x1, Is.EqualTo(new[] { expected, expected }).Within(1e-6));
    }

    [Test]
    public void Step_HandSolved_ExtrapolatesByEtaAndClampsToBox()
    {
        // Iterate = x = (0.5, 0.98), boundary x₂ = 1.0 (w = (0, 1), f = −0.02): d₁ = d₂ = (0, 0.02), α = 0.1, and
        // 0.98 + 1.05·0.02 = 1.001 is clamped to 1. With a boundary at 0.99: 0.9905.
        float[] x1 = [0.5f, 0.98f];
        Fab.Step(new FabSettings(PgdNorm.Linf, 1f), x1, [0.5f, 0.98f], [0f, 1f], -0.02f);
        Assert.That(x1, Is.EqualTo(new[] { 0.5f, 1f }));
        x1 = [0.5f, 0.98f];
        Fab.Step(new FabSettings(PgdNorm.L2, 1f), x1, [0.5f, 0.98f], [0f, 1f], -0.01f);
        Assert.That(x1, Is.EqualTo(new[] { 0.5f, 0.9905f }).Within(1e-6));
    }

    // ---- the attack on linear models ----

    [TestCase(PgdNorm.Linf, 1)]
    [TestCase(PgdNorm.Linf, 2)]
    [TestCase(PgdNorm.Linf, 100)]
    [TestCase(PgdNorm.L2, 1)]
    [TestCase(PgdNorm.L2, 2)]
    [TestCase(PgdNorm.L2, 100)]
    public void Fab_LinearBinary_FindsNearMinimalPerturbation(PgdNorm norm, int steps)
    {
        // One target (the other class) and a linear model, so the linearisation is exact and, away from the box, every
        // iterate lies on the segment from x to its closest boundary point x + D (‖D‖ = eps*). Step 1 projects x
        // (d₁ = d₂ = D, α = min(1/2, α_max) = 0.1) and lands at x + η·D: fooled at η·eps*, then stepped back to
        // x + βη·D. Step 2: d₁ = (1 − βη)·D, d₂ = D, α = (1 − βη)/(2 − βη), landing at s₂·D with
        // s₂ = (1 − α)(βη + η(1 − βη)) + α·η = 1.005216 for η = 1.05, β = 0.9. Later steps land farther out
        // (1.0087, ...), so the smallest stays s₂·eps*; no misclassified point is closer than eps*.
        const int n = 32, d = 16;
        double eta = 1.05, beta = 0.9, back = beta * eta, alpha = (1 - back) / (2 - back);
        double expected = steps == 1 ? eta : (1 - alpha) * (back + eta * (1 - back)) + alpha * eta;
        var (model, x, y, epsStar) = AttackTestData.Binary(Cpu, Rng(), n, norm);
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var result = new Fab(new FabSettings(norm, 10f, Steps: steps)).Run(model, tx, ty, 0u);
        Assert.That(result.Success, Is.All.True);
        float[] adv = result.Adversarial.ToArray();
        int[] pred = AttackData.Predict(model, result.Adversarial);
        int interior = 0;
        for (int i = 0; i < n; i++)
        {
            Assert.That(pred[i], Is.Not.EqualTo(y[i]), $"sample {i}");
            double norm_ = AttackData.Perturbation(AttackData.Row(adv, i, d), AttackData.Row(x, i, d), 1, norm).MaxNorm;
            Assert.That(norm_, Is.GreaterThanOrEqualTo(epsStar[i] * (1 - 1e-5)), $"sample {i}: inside the boundary");
            if (!BoundaryPointInterior(model, x, i, y[i], 1 - y[i], norm, scale: eta)) continue;
            interior++;
            // 1e-6 absolute: pixels are float32, which resolves a perturbation of a tiny eps* only so finely.
            Assert.That(norm_, Is.EqualTo(expected * epsStar[i]).Within(1e-4 * epsStar[i] + 1e-6),
                $"sample {i}, eps* {epsStar[i]}");
        }
        Assert.That(interior, Is.GreaterThan(n / 2), "too few samples whose closest boundary point is in the box");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void Fab_LinearMulticlass_ClosedFormDistanceToFirstTargetBoundary(PgdNorm norm)
    {
        // z = Wx + b with K = 5: the t-vs-y boundary is at (z_y − z_t)/‖w_t − w_y‖ (dual norm: l1 for l-inf, l2 for
        // l2). With a large eps the first target (highest other clean logit) fools every sample: the result lies
        // beyond the closest boundary of all and within 2% of that target's boundary.
        const int n = 24, k = 5, d = 16;
        var rng = Rng();
        var model = new LinearClassifier(Cpu, rng.Normal(k * d, 0.5f), rng.Normal(k, 0.1f), 1, 4, 4);
        float[] x = rng.Uniform(n * d, 0.3f, 0.7f);
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        int[] y = AttackData.Predict(model, tx);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var result = new Fab(new FabSettings(norm, 10f, TargetClasses: 4)).Run(model, tx, ty, 0u);
        Assert.That(result.Success, Is.All.True);
        float[] adv = result.Adversarial.ToArray();
        int[] pred = AttackData.Predict(model, result.Adversarial);
        int checkedFirst = 0;
        for (int i = 0; i < n; i++)
        {
            Assert.That(pred[i], Is.Not.EqualTo(y[i]), $"sample {i}");
            double[] z = model.HostLogits(x.AsSpan(i * d, d));
            int first = Enumerable.Range(0, k).Where(j => j != y[i]).MaxBy(j => z[j]);
            double closest = Enumerable.Range(0, k).Where(j => j != y[i])
                .Min(j => BoundaryDistance(model, z, y[i], j, norm));
            double norm_ = AttackData.Perturbation(AttackData.Row(adv, i, d), AttackData.Row(x, i, d), 1, norm).MaxNorm;
            Assert.That(norm_, Is.GreaterThanOrEqualTo(closest * (1 - 1e-5)), $"sample {i}: inside every boundary");
            if (!BoundaryPointInterior(model, x, i, y[i], first, norm)) continue;
            checkedFirst++;
            Assert.That(norm_, Is.LessThanOrEqualTo(BoundaryDistance(model, z, y[i], first, norm) * 1.02),
                $"sample {i}: far from the first target's boundary");
        }
        Assert.That(checkedFirst, Is.GreaterThan(n / 2), "too few samples whose boundary point is in the box");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void Fab_EpsThreshold_FoolsOnlyWhatTheBallAllows(PgdNorm norm)
    {
        // Binary linear model, eps = the median distance to the boundary: samples farther than eps cannot be fooled
        // (FAB must not claim them), samples well inside are, and each claim is misclassified within eps.
        const int n = 40, d = 16;
        var (model, x, y, epsStar) = AttackTestData.Binary(Cpu, Rng(), n, norm);
        float eps = (float)epsStar.OrderBy(v => v).ElementAt(n / 2);
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var result = new Fab(new FabSettings(norm, eps, Steps: 50)).Run(model, tx, ty, 0u);
        AttackData.AssertInBallAndBox(result.Adversarial, tx, norm, eps);
        int[] pred = AttackData.Predict(model, result.Adversarial);
        float[] adv = result.Adversarial.ToArray();
        for (int i = 0; i < n; i++)
        {
            Assert.That(result.Success[i], Is.EqualTo(pred[i] != y[i]), $"sample {i}: flag ≠ prediction");
            if (epsStar[i] > eps * (1 + 1e-5)) Assert.That(result.Success[i], Is.False, $"sample {i}: beyond eps");
            if (epsStar[i] * 1.02 < eps && BoundaryPointInterior(model, x, i, y[i], 1 - y[i], norm))
                Assert.That(result.Success[i], Is.True, $"sample {i}: well inside eps but not fooled");
            if (!result.Success[i])
                Assert.That(AttackData.Row(adv, i, d), Is.EqualTo(AttackData.Row(x, i, d)), $"sample {i}: not x");
        }
        Assert.That(result.SuccessCount, Is.InRange(n / 4, n / 2 + 1));
    }

    /// <summary>(z_y − z_t)/‖w_t − w_y‖_dual for a linear model: the distance to the t-vs-y boundary ignoring the
    /// box.</summary>
    private static double BoundaryDistance(LinearClassifier model, double[] z, int y, int t, PgdNorm norm)
    {
        int d = model.Weight.Length / model.Classes;
        double dual = 0;
        for (int e = 0; e < d; e++)
        {
            double v = model.Weight[t * d + e] - model.Weight[y * d + e];
            dual += norm == PgdNorm.Linf ? Math.Abs(v) : v * v;
        }
        return (z[y] - z[t]) / (norm == PgdNorm.Linf ? dual : Math.Sqrt(dual));
    }

    /// <summary>Whether x + scale·D lies inside [0, 1]^D, x + D the closest point of the t-vs-y boundary (closed form,
    /// no box).</summary>
    private static bool BoundaryPointInterior(LinearClassifier model, float[] x, int i, int y, int t, PgdNorm norm,
        double scale = 1)
    {
        int d = model.Weight.Length / model.Classes;
        double[] z = model.HostLogits(x.AsSpan(i * d, d));
        double dist = BoundaryDistance(model, z, y, t, norm), l2 = 0;
        var v = new double[d];
        for (int e = 0; e < d; e++) l2 += (v[e] = model.Weight[t * d + e] - model.Weight[y * d + e]) * v[e];
        for (int e = 0; e < d; e++)
        {
            double step = scale * (norm == PgdNorm.Linf ? dist * Math.Sign(v[e]) : dist * v[e] / Math.Sqrt(l2));
            double p = x[i * d + e] + step;
            if (p < 0 || p > 1) return false;
        }
        return true;
    }

    // ---- invariants ----

    [TestCase(PgdNorm.Linf, 8f / 255)]
    [TestCase(PgdNorm.L2, 0.5f)]
    public void Fab_Mlp_StaysInBallAndBoxAndFlagsMatchPredictions(PgdNorm norm, float eps)
    {
        const int n = 24, d = 192;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var result = new Fab(new FabSettings(norm, eps, Steps: 10, Restarts: 2, TargetClasses: 3, Seed: 4))
            .Run(model, tx, ty, 0u);
        AttackData.AssertInBallAndBox(result.Adversarial, tx, norm, eps);
        int[] pred = AttackData.Predict(model, result.Adversarial), clean = AttackData.Predict(model, tx);
        Assert.That(result.Success, Is.EqualTo(pred.Select((p, i) => p != y[i]).ToArray()));
        float[] adv = result.Adversarial.ToArray(), z = AttackData.Logits(model, result.Adversarial);
        for (int i = 0; i < n; i++)
        {
            if (clean[i] != y[i] || !result.Success[i])
                Assert.That(AttackData.Row(adv, i, d), Is.EqualTo(AttackData.Row(x, i, d)), $"sample {i}");
            double other = Enumerable.Range(0, 10).Where(j => j != y[i]).Max(j => z[i * 10 + j]);
            Assert.That(result.Loss[i], Is.EqualTo(other - z[i * 10 + y[i]]).Within(1e-5), $"sample {i}: loss");
        }
        int cleanWrong = clean.Where((c, i) => c != y[i]).Count();
        Assert.That(result.SuccessCount, Is.GreaterThan(cleanWrong), "no point was fooled");
        Assert.That(result.SuccessCount, Is.LessThan(n), "eps should not fool everything");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void Fab_SubsetWithScatteredIds_SameRowsAsWholeBatch(PgdNorm norm)
    {
        // Two restarts: the second starts at a Philox draw keyed by the sample's global id.
        const int n = 20, d = 192;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        float eps = norm == PgdNorm.Linf ? 0.02f : 0.3f;
        var fab = new Fab(new FabSettings(norm, eps, Steps: 8, Restarts: 2, TargetClasses: 2, Seed: 8));
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var whole = fab.Run(model, tx, ty, 50u);
        int[] rows = [1, 3, 4, 7, 8, 9, 13, 19];
        using var sx = Tensor.FromArray(Cpu, AttackData.Rows(x, rows, d), rows.Length, 3, 8, 8);
        using var sy = Tensor.FromArray(Cpu, rows.Select(r => y[r]).ToArray(), rows.Length);
        using var part = fab.Run(model, sx, sy, rows.Select(r => 50u + (uint)r).ToArray());
        float[] all = whole.Adversarial.ToArray(), sub = part.Adversarial.ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.That(AttackData.Row(sub, i, d), Is.EqualTo(AttackData.Row(all, rows[i], d)), $"row {rows[i]}");
            Assert.That(part.Success[i], Is.EqualTo(whole.Success[rows[i]]));
            Assert.That(part.Loss[i], Is.EqualTo(whole.Loss[rows[i]]));
        }
        Assert.That(whole.SuccessCount, Is.InRange(1, n - 1), "eps should fool some samples, not all");
    }

    [Test]
    public void Fab_SameSeed_IdenticalResults()
    {
        const int n = 12;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        var settings = new FabSettings(PgdNorm.L2, 0.3f, Steps: 6, Restarts: 3, TargetClasses: 2, Seed: 11);
        using var a = new Fab(settings).Run(model, tx, ty, 0u);
        using var b = new Fab(settings).Run(model, tx, ty, 0u);
        Assert.That(b.Adversarial.ToArray(), Is.EqualTo(a.Adversarial.ToArray()));
        Assert.That(b.Success, Is.EqualTo(a.Success));
        Assert.That(b.Loss, Is.EqualTo(a.Loss));
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void Fab_StartDelta_HalfEpsKeyedBySeedStreamAndSample(PgdNorm norm)
    {
        // The reference's later-restart start: x + min(res, eps)·u/‖u‖·0.5 with res = 1e10 at that point.
        float[] a = Fab.StartDelta(norm, 0.4f, 3, 1, 7, 192);
        double length = Length(a.Select(v => (double)v).ToArray(), norm);
        Assert.That(length, Is.EqualTo(0.2).Within(1e-6));
        Assert.That(Fab.StartDelta(norm, 0.4f, 3, 1, 7, 192), Is.EqualTo(a), "not a pure function of its key");
        Assert.That(Fab.StartDelta(norm, 0.4f, 4, 1, 7, 192), Is.Not.EqualTo(a), "seed ignored");
        Assert.That(Fab.StartDelta(norm, 0.4f, 3, 2, 7, 192), Is.Not.EqualTo(a), "stream ignored");
        Assert.That(Fab.StartDelta(norm, 0.4f, 3, 1, 8, 192), Is.Not.EqualTo(a), "sample ignored");
        if (norm == PgdNorm.Linf)
            Assert.That(a.Count(v => Math.Abs(Math.Abs(v) - 0.2) < 1e-7), Is.EqualTo(1), "one coordinate at the max");
    }

    [Test]
    public void Fab_TrainingModeModel_AttackedInEvalModeWithoutWeightGradients()
    {
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), 8);
        using var tx = Tensor.FromArray(Cpu, x, 8, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, 8);
        model.Train();
        int before = model.TrainingForwards;
        var fab = new Fab(new FabSettings(PgdNorm.Linf, 0.03f, Steps: 3, TargetClasses: 2));
        using var result = fab.Run(model, tx, ty, 0u);
        Assert.That(model.TrainingForwards, Is.EqualTo(before), "a forward pass ran in training mode");
        Assert.That(model.Training, Is.True, "training mode was not restored");
        Assert.That(model.Parameters().All(p => p.Grad is null), Is.True, "an attack computed a weight gradient");
    }

    [Test]
    public void Fab_Settings_RejectsInvalidAndNeedsNoTargets()
    {
        Assert.Throws<ArgumentException>(() => new Fab(new FabSettings(PgdNorm.Linf, -1f)));
        Assert.Throws<ArgumentException>(() => new Fab(new FabSettings(PgdNorm.Linf, 0.1f, Steps: 0)));
        Assert.Throws<ArgumentException>(() => new Fab(new FabSettings(PgdNorm.Linf, 0.1f, AlphaMax: 1.5f)));
        Assert.Throws<ArgumentException>(() => new Fab(new FabSettings(PgdNorm.Linf, 0.1f, Beta: -0.1f)));
        var fab = new Fab(new FabSettings(PgdNorm.L2, 0.5f));
        Assert.That((fab.Name, fab.Norm, fab.Eps, fab.NeedsTargets), Is.EqualTo(("fab-t", PgdNorm.L2, 0.5f, false)));
        var s = fab.Config;
        Assert.That((s.Steps, s.Restarts, s.TargetClasses, s.AlphaMax, s.Eta, s.Beta),
            Is.EqualTo((100, 1, 9, 0.1f, 1.05f, 0.9f)), "AutoAttack's standard FAB-T settings");
    }
}
