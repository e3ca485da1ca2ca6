using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// APGD (Core/Attacks/Apgd.cs, ApgdSchedule.cs): the step-size schedule against the paper and the reference code,
// then the attack's invariants on tiny CPU models. Shape letters: N samples of 1×4×4 or 3×8×8 pixels, K classes.
public class ApgdTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    [Test]
    public void ApgdSchedule_100Steps_MatchesPaperCheckpoints()
    {
        // p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06); w_j = ⌈p_j·100⌉ (1-based iterations).
        var p = new List<double> { 0, 0.22 };
        while (true)
        {
            double next = p[^1] + Math.Max(p[^1] - p[^2] - 0.03, 0.06);
            if (next > 1) break;
            p.Add(next);
        }
        int[] paper = p.Skip(1).Select(v => (int)Math.Ceiling(Math.Round(v * 100, 9)) - 1).ToArray();
        Assert.That(paper, Is.EqualTo(new[] { 21, 40, 56, 69, 79, 86, 92, 98 }));
        Assert.That(ApgdSchedule.Checkpoints(100), Is.EqualTo(paper));
    }

    [Test]
    public void ApgdSchedule_10Steps_MatchesReferenceIntegerWindows()
    {
        // n_iter_2 = max(int(2.2), 1) = 2, size_decr = n_iter_min = 1: windows 2, 1, 1, ...
        Assert.That(ApgdSchedule.Checkpoints(10), Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }));
    }

    [Test]
    public void ApgdSchedule_HandCases_HalveAsReference()
    {
        // 3 increases in a window of 4: 3 <= 0.75·4, so the step is halved (the reference's <=); 4 of 4 is not.
        Assert.That(ApgdSchedule.Oscillates([0f, 1f, 2f, 3f, 2f], 4, 4, 0.75f), Is.True);
        Assert.That(ApgdSchedule.Oscillates([0f, 1f, 2f, 3f, 4f], 4, 4, 0.75f), Is.False);
        Assert.That(ApgdSchedule.Oscillates([9f, 0f, 1f, 2f, 3f, 4f], 5, 4, 0.75f), Is.False, "the last k steps only");
        // Condition 2: not halved last time and no improvement of the best loss since then.
        Assert.That(ApgdSchedule.Halve(false, halvedLastCheckpoint: false, 5f, 5f), Is.True);
        Assert.That(ApgdSchedule.Halve(false, halvedLastCheckpoint: true, 5f, 5f), Is.False);
        Assert.That(ApgdSchedule.Halve(false, halvedLastCheckpoint: false, 5f, 6f), Is.False);
        Assert.That(ApgdSchedule.Halve(true, halvedLastCheckpoint: true, 5f, 6f), Is.True);
    }

    [Test]
    public void Apgd_TopOtherClasses_SortsByLogitThenIndexSkippingLabel()
    {
        float[] logits = [1f, 5f, 3f, 5f, /* row 2 */ 0f, 2f, 2f, 1f];
        int[][] sets = Apgd.TopOtherClasses(logits, 4, [1, 0], 3);
        Assert.That(sets.Select(s => s[0]), Is.EqualTo(new[] { 3, 2, 0 }));
        Assert.That(sets.Select(s => s[1]), Is.EqualTo(new[] { 1, 2, 3 }));
    }

    [TestCase(PgdNorm.Linf, AttackLossKind.CrossEntropy, 8f / 255)]
    [TestCase(PgdNorm.Linf, AttackLossKind.Dlr, 8f / 255)]
    [TestCase(PgdNorm.Linf, AttackLossKind.TargetedDlr, 8f / 255)]
    [TestCase(PgdNorm.L2, AttackLossKind.CrossEntropy, 0.5f)]
    [TestCase(PgdNorm.L2, AttackLossKind.TargetedDlr, 0.5f)]
    public void Apgd_Mlp_StaysInBallAndBoxAndFlagsMatchPredictions(PgdNorm norm, AttackLossKind loss, float eps)
    {
        const int n = 24;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        var apgd = new Apgd(new ApgdSettings(norm, eps, Steps: 10, Restarts: 2, Loss: loss, TargetClasses: 3, Seed: 4));
        using var result = apgd.Run(model, tx, ty, 0u);
        AttackData.AssertInBallAndBox(result.Adversarial, tx, norm, eps);
        int[] pred = AttackData.Predict(model, result.Adversarial), clean = AttackData.Predict(model, tx);
        Assert.That(result.Success, Is.EqualTo(pred.Select((p, i) => p != y[i]).ToArray()));
        float[] adv = result.Adversarial.ToArray();
        for (int i = 0; i < n; i++)
            if (clean[i] != y[i])
                Assert.That(AttackData.Row(adv, i, 192), Is.EqualTo(AttackData.Row(x, i, 192)), $"sample {i}");
        int cleanWrong = clean.Where((c, i) => c != y[i]).Count();
        Assert.That(result.SuccessCount, Is.GreaterThan(cleanWrong), "no point was fooled");
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void Apgd_LinearBinaryCe_AdversarialLossAboveCleanLoss(PgdNorm norm)
    {
        // The loss is an increasing function of one linear direction: the first step of 2·eps from any start on the
        // sphere moves along it, so the best iterate's loss exceeds the clean loss for every sample.
        const int n = 32;
        var (model, x, y, _) = AttackTestData.Binary(Cpu, Rng(), n, norm);
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        using var ty = Tensor.FromArray(Cpu, y, n);
        float eps = norm == PgdNorm.Linf ? 0.05f : 0.2f;
        using var result = new Apgd(new ApgdSettings(norm, eps, Steps: 8, Seed: 2)).Run(model, tx, ty, 0u);
        double[] clean = AttackData.CrossEntropy(model, tx, y);
        double[] adv = AttackData.CrossEntropy(model, result.Adversarial, y);
        for (int i = 0; i < n; i++)
            Assert.That(adv[i], Is.GreaterThan(clean[i]), $"sample {i}");
        AttackData.AssertInBallAndBox(result.Adversarial, tx, norm, eps);
    }

    [Test]
    public void ApgdTargeted_EasyLinearModel_FoolsEverySample()
    {
        const int n = 16, k = 6, d = 16;
        var rng = Rng();
        var model = new LinearClassifier(Cpu, rng.Normal(k * d, 1f), rng.Normal(k, 0.1f), 1, 4, 4);
        float[] x = rng.Uniform(n * d, 0.2f, 0.8f);
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        int[] y = AttackData.Predict(model, tx);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var result = new Apgd(new ApgdSettings(PgdNorm.Linf, 0.3f, Steps: 10, Loss: AttackLossKind.TargetedDlr))
            .Run(model, tx, ty, 0u);
        Assert.That(result.Success, Is.All.True);
        Assert.That(AttackData.Predict(model, result.Adversarial).Zip(y).All(p => p.First != p.Second), Is.True);
    }

    [TestCase(AttackLossKind.CrossEntropy)]
    [TestCase(AttackLossKind.TargetedDlr)]
    public void Apgd_SubsetWithScatteredIds_SameRowsAsWholeBatch(AttackLossKind loss)
    {
        // Rows 1, 3, 4, 7, ... with their own global ids: the random starts come from several PgdRandomStart runs.
        const int n = 20, d = 192;
        var (model, x, y) = AttackTestData.Mlp(Cpu, Rng(), n);
        var apgd = new Apgd(new ApgdSettings(PgdNorm.Linf, 0.02f, Steps: 6, Restarts: 2, Loss: loss, TargetClasses: 2,
            Seed: 8));
        using var tx = Tensor.FromArray(Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var whole = apgd.Run(model, tx, ty, 50u);
        int[] rows = [1, 3, 4, 7, 8, 9, 13, 19];
        using var sx = Tensor.FromArray(Cpu, AttackData.Rows(x, rows, d), rows.Length, 3, 8, 8);
        using var sy = Tensor.FromArray(Cpu, rows.Select(r => y[r]).ToArray(), rows.Length);
        using var part = apgd.Run(model, sx, sy, rows.Select(r => 50u + (uint)r).ToArray());
        float[] all = whole.Adversarial.ToArray(), sub = part.Adversarial.ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.That(AttackData.Row(sub, i, d), Is.EqualTo(AttackData.Row(all, rows[i], d)), $"row {rows[i]}");
            Assert.That(part.Success[i], Is.EqualTo(whole.Success[rows[i]]));
            Assert.That(part.Loss[i], Is.EqualTo(whole.Loss[rows[i]]));
        }
    }

    [Test]
    public void Apgd_LinearBinaryFlatLoss_HalvesEveryStepAtEachCheckpoint()
    {
        // Linf on a binary linear model: the first step of 2·eps lands on the maximizing vertex and every later
        // iterate stays there, so the loss never rises again and each checkpoint halves every sample's step:
        // η = 2·eps·2^−j after the j-th checkpoint (20 steps: checkpoints after iterations 3, 6, 8, 9, ..., 19).
        const int n = 8, steps = 20;
        var rng = Rng();
        var (model, x, y, epsStar) = AttackTestData.Binary(Cpu, rng, n, PgdNorm.Linf);
        float eps = (float)(epsStar.Min() / 2); // no sample can be fooled, so the run goes to the end
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        using var ty = Tensor.FromArray(Cpu, y, n);
        var apgd = new Apgd(new ApgdSettings(PgdNorm.Linf, eps, Steps: steps, Seed: 3));
        var trace = new List<(int It, float[] Step)>();
        apgd.OnStep = (it, step) => trace.Add((it, step));
        using var result = apgd.Run(model, tx, ty, 0u);
        Assert.That(result.Success, Is.All.False);
        int[] checkpoints = ApgdSchedule.Checkpoints(steps);
        Assert.That(checkpoints, Is.EqualTo(new[] { 3, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 }));
        Assert.That(trace.Select(t => t.It), Is.EqualTo(Enumerable.Range(0, steps)));
        foreach (var (it, step) in trace)
        {
            int halvings = checkpoints.Count(c => c <= it);
            Assert.That(step, Is.All.EqualTo(2f * eps / (1 << halvings)), $"iteration {it}");
        }
    }
}
