using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Nn;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Autograd;

public class KlDivergenceTests
{
    private static readonly AdvRobust.Core.IBackend Cpu = Backends.Cpu;

    private static double Kl(float[] p, float[] q, int n, int k)
    {
        using var tape = new Tape(Cpu);
        using var tp = Tensor.FromArray(Cpu, p, n, k);
        using var tq = Tensor.FromArray(Cpu, q, n, k);
        return F.KlDivergence(tape, tape.Constant(tp), tape.Constant(tq)).Value.ToArray()[0];
    }

    [Test]
    public void KlDivergence_MatchesDoubleFormulaAndIsZeroForEqualLogits()
    {
        var rng = new SeededRandom(nameof(KlDivergence_MatchesDoubleFormulaAndIsZeroForEqualLogits));
        int n = 3, k = 5;
        float[] p = rng.Normal(n * k, 2f), q = rng.Normal(n * k, 2f);
        double expected = 0;
        for (int i = 0; i < n; i++)
        {
            double[] lp = LogSoftmax(p, i, k), lq = LogSoftmax(q, i, k);
            for (int j = 0; j < k; j++) expected += Math.Exp(lp[j]) * (lp[j] - lq[j]);
        }
        Assert.That(Kl(p, q, n, k), Is.EqualTo(expected / n).Within(1e-5));
        Assert.That(Kl(p, p, n, k), Is.EqualTo(0).Within(1e-6));
    }

    [Test]
    public void KlDivergence_GradientsOfBothLogits_MatchFiniteDifferences()
    {
        var rng = new SeededRandom(nameof(KlDivergence_GradientsOfBothLogits_MatchFiniteDifferences));
        int n = 4, k = 6;
        float[] p = rng.Normal(n * k), q = rng.Normal(n * k);
        float[] gp, gq;
        using (var tape = new Tape(Cpu))
        using (var tp = Tensor.FromArray(Cpu, p, n, k))
        using (var tq = Tensor.FromArray(Cpu, q, n, k))
        {
            var vp = tape.Input(tp);
            var vq = tape.Input(tq);
            tape.Backward(F.KlDivergence(tape, vp, vq));
            gp = vp.Grad!.ToArray();
            gq = vq.Grad!.ToArray();
        }
        AssertClose.All(FiniteDifference.Gradient(() => Kl(p, q, n, k), p, 1e-2f), gp, 2e-3, 2e-2, "dKL/dp");
        AssertClose.All(FiniteDifference.Gradient(() => Kl(p, q, n, k), q, 1e-2f), gq, 2e-3, 2e-2, "dKL/dq");
    }

    private static double[] LogSoftmax(float[] z, int row, int k)
    {
        double max = double.NegativeInfinity, sum = 0;
        for (int j = 0; j < k; j++) max = Math.Max(max, z[row * k + j]);
        for (int j = 0; j < k; j++) sum += Math.Exp(z[row * k + j] - max);
        return Enumerable.Range(0, k).Select(j => z[row * k + j] - max - Math.Log(sum)).ToArray();
    }
}
