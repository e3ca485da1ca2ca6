using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// Square Attack (Core/Attacks/Square.cs): its schedule against the reference, that it is score-based (never a
// backward op), its invariants, and independence of the batch. Shape letters: N samples of C×H×W pixels.
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
}
