using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// FGSM (Core/Attacks/Fgsm.cs) against the analytic gradient of a linear model, and the loss helpers it uses.
public class FgsmTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(false)]
    [TestCase(true)]
    public void Fgsm_LinearModel_MatchesAnalyticSignStep(bool targeted)
    {
        // z = W x + b; dCE(z, c)/dx = Wᵀ(softmax(z) − onehot(c)). Untargeted ascends CE(y), targeted descends CE(t).
        const int n = 12, k = 3, d = 16;
        const float eps = 0.1f;
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var model = new LinearClassifier(Cpu, rng.Normal(k * d), rng.Normal(k, 0.1f), 1, 4, 4);
        float[] x = rng.Uniform(n * d, 0f, 1f);
        int[] y = rng.Labels(n, k), t = y.Select(v => (v + 1) % k).ToArray();
        using var tx = Tensor.FromArray(Cpu, x, n, 1, 4, 4);
        using var ty = Tensor.FromArray(Cpu, y, n);
        using var tt = Tensor.FromArray(Cpu, t, n);
        var fgsm = new Fgsm(new FgsmSettings(eps, Targeted: targeted));
        using var result = fgsm.Run(model, tx, ty, 0u, targeted ? tt : null);

        var expected = new float[n * d];
        int tiny = 0;
        for (int i = 0; i < n; i++)
        {
            double[] z = model.HostLogits(x.AsSpan(i * d, d));
            double max = z.Max(), sum = z.Sum(v => Math.Exp(v - max));
            int c = targeted ? t[i] : y[i];
            for (int e = 0; e < d; e++)
            {
                double g = 0;
                for (int j = 0; j < k; j++)
                    g += model.Weight[j * d + e] * (Math.Exp(z[j] - max) / sum - (j == c ? 1 : 0));
                if (targeted) g = -g;
                if (Math.Abs(g) < 1e-5) tiny++;
                float x0 = x[i * d + e], v = x0 + eps * Math.Sign(g);
                expected[i * d + e] = Math.Clamp(MathF.Min(MathF.Max(v, x0 - eps), x0 + eps), 0f, 1f);
            }
        }
        Assert.That(tiny, Is.Zero, "a gradient component too close to 0 for its sign to be stable");
        Assert.That(result.Adversarial.ToArray(), Is.EqualTo(expected));
        int[] pred = AttackData.Predict(model, result.Adversarial);
        Assert.That(result.Success, Is.EqualTo(pred.Select((p, i) => targeted ? p == t[i] : p != y[i]).ToArray()));
    }

    [Test]
    public void Fgsm_L2_StaysInBallAndBox()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var (model, x, y) = AttackTestData.Mlp(Cpu, rng, 16);
        using var tx = Tensor.FromArray(Cpu, x, 16, 3, 8, 8);
        using var ty = Tensor.FromArray(Cpu, y, 16);
        using var result = new Fgsm(new FgsmSettings(0.5f, PgdNorm.L2)).Run(model, tx, ty, 0u);
        AttackData.AssertInBallAndBox(result.Adversarial, tx, PgdNorm.L2, 0.5f);
        double[] clean = AttackData.CrossEntropy(model, tx, y);
        double[] adv = AttackData.CrossEntropy(model, result.Adversarial, y);
        Assert.That(adv.Zip(clean).Count(p => p.First > p.Second), Is.GreaterThan(12), "the step should raise losses");
    }

    [Test]
    public void AttackLoss_TargetedVariants_AreNegatedUntargetedLosses()
    {
        // CE and CW with targets are minus the untargeted loss evaluated at the target; DLR refuses targets.
        float[] logits = [2f, -1f, 0.5f, 3f, 1f, 0f, -2f, 4f];
        using var z = Tensor.FromArray(Cpu, logits, 2, 4);
        using var labels = Tensor.FromArray(Cpu, new[] { 0, 3 }, 2);
        using var targets = Tensor.FromArray(Cpu, new[] { 2, 1 }, 2);
        using var tape = new AdvRobust.Core.Autograd.Tape(Cpu, parameterGradients: false);
        var v = tape.Constant(z);
        float[] ce = AttackLoss.Compute(tape, AttackLossKind.CrossEntropy, v, targets, null).Value.ToArray();
        float[] ceT = AttackLoss.Compute(tape, AttackLossKind.CrossEntropy, v, labels, targets).Value.ToArray();
        float[] cw = AttackLoss.Compute(tape, AttackLossKind.CW, v, targets, null).Value.ToArray();
        float[] cwT = AttackLoss.Compute(tape, AttackLossKind.CW, v, labels, targets).Value.ToArray();
        Assert.That(ceT, Is.EqualTo(ce.Select(c => -c).ToArray()));
        Assert.That(cwT, Is.EqualTo(cw.Select(c => -c).ToArray()));
        Assert.That(cw, Is.EqualTo(new[] { 3f - 0.5f, 4f - 0f }), "CW = max_{j≠t} z_j − z_t");
        Assert.Throws<ArgumentException>(() => AttackLoss.Compute(tape, AttackLossKind.Dlr, v, labels, targets));
        Assert.Throws<ArgumentException>(() => AttackLoss.Compute(tape, AttackLossKind.TargetedDlr, v, labels, null));
    }
}
