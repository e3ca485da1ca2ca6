using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// Training-mode batch norm on the CPU. Shape letters: x N×C×H×W (or N×C), statistics per channel over N·H·W values.
public class BatchNormTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void BatchNormForward_HandCase_NormalizesAndUpdatesRunningStatistics()
    {
        // One channel holding 1, 2, 3, 4 (N = 2, L = 2): mean 2.5, biased var 1.25, unbiased 5/3.
        var p = new BatchNormParams(1e-5f, 0.1f);
        using var x = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4 }, 2, 1, 2);
        using var gamma = Tensor.FromArray(Cpu, new float[] { 2 }, 1);
        using var beta = Tensor.FromArray(Cpu, new float[] { 1 }, 1);
        using var runningMean = Tensor.FromArray(Cpu, new float[] { 0 }, 1);
        using var runningVar = Tensor.FromArray(Cpu, new float[] { 1 }, 1);
        using var y = Tensor.Empty(Cpu, DType.Float32, 2, 1, 2);
        using var mean = Tensor.Empty(Cpu, DType.Float32, 1);
        using var invStd = Tensor.Empty(Cpu, DType.Float32, 1);
        Ops.BatchNormForward(p, x, gamma, beta, runningMean, runningVar, y, mean, invStd);

        double s = 1 / Math.Sqrt(1.25 + 1e-5);
        var expected = new[] { 1, 2, 3, 4 }.Select(v => (float)((v - 2.5) * s * 2 + 1)).ToArray();
        AssertClose.All(expected, y.ToArray(), 1e-6, 1e-6, "y");
        Assert.That(mean.ToArray()[0], Is.EqualTo(2.5f));
        Assert.That(invStd.ToArray()[0], Is.EqualTo((float)s).Within(1e-6));
        Assert.That(runningMean.ToArray()[0], Is.EqualTo(0.25f).Within(1e-7));
        Assert.That(runningVar.ToArray()[0], Is.EqualTo(0.9f + 0.1f * 5f / 3f).Within(1e-6));
    }

    [Test]
    public void BatchNormForward_PerChannelStatistics_EachChannelHasZeroMeanUnitVariance()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 4, c = 3, l = 10;
        var xs = rng.Normal(n * c * l, 3f).Select((v, i) => v + i % (c * l) / l * 5f).ToArray();
        var (y, _, _, _) = Forward(xs, Enumerable.Repeat(1f, c).ToArray(), new float[c], n, c, 2, 5);
        for (int ch = 0; ch < c; ch++)
        {
            var values = Enumerable.Range(0, n).SelectMany(i => y.Skip((i * c + ch) * l).Take(l))
                .Select(v => (double)v).ToArray();
            double m = values.Average(), v = values.Select(t => (t - m) * (t - m)).Average();
            Assert.That(m, Is.EqualTo(0).Within(1e-5), $"channel {ch} mean");
            Assert.That(v, Is.EqualTo(1).Within(1e-4), $"channel {ch} variance");
        }
    }

    [TestCase(3, 2, 4, 3)]
    [TestCase(5, 3, 1, 1)]
    public void BatchNormBackward_RandomInput_MatchesFiniteDifference(int n, int c, int h, int w)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int count = n * c * h * w;
        float[] xs = rng.Normal(count, 2f), gammas = rng.Uniform(c, 0.5f, 1.5f), betas = rng.Normal(c);
        float[] g = rng.Normal(count);
        var (_, dx, dgamma, dbeta) = Forward(xs, gammas, betas, n, c, h, w, g);

        double Loss() => GradCheck.Dot(g, Forward(xs, gammas, betas, n, c, h, w).Y);
        string seed = $"seed {rng.Seed}";
        AssertClose.All(FiniteDifference.Gradient(Loss, xs, 1e-3f), dx, 2e-3, 1e-2, $"dx, {seed}");
        AssertClose.All(FiniteDifference.Gradient(Loss, gammas, 1e-3f), dgamma, 2e-3, 1e-2, $"dgamma, {seed}");
        AssertClose.All(FiniteDifference.Gradient(Loss, betas, 1e-3f), dbeta, 2e-3, 1e-2, $"dbeta, {seed}");
    }

    /// <summary>y (and, given <paramref name="g"/>, dx, dγ, dβ) for x N×C×H×W, or N×C when h = w = 1.</summary>
    private static (float[] Y, float[] Dx, float[] Dgamma, float[] Dbeta) Forward(float[] xs, float[] gammas,
        float[] betas, int n, int c, int h, int w, float[]? g = null)
    {
        var p = new BatchNormParams(1e-5f, 0.1f);
        int[] dims = h * w == 1 ? [n, c] : [n, c, h, w];
        using var x = Tensor.FromArray(Cpu, xs, dims);
        using var gamma = Tensor.FromArray(Cpu, gammas, c);
        using var beta = Tensor.FromArray(Cpu, betas, c);
        using var runningMean = Tensor.Zeros(Cpu, c);
        using var runningVar = Tensor.Zeros(Cpu, c);
        using var y = Tensor.Empty(Cpu, DType.Float32, dims);
        using var mean = Tensor.Empty(Cpu, DType.Float32, c);
        using var invStd = Tensor.Empty(Cpu, DType.Float32, c);
        Ops.BatchNormForward(p, x, gamma, beta, runningMean, runningVar, y, mean, invStd);
        if (g is null) return (y.ToArray(), [], [], []);
        using var dy = Tensor.FromArray(Cpu, g, dims);
        using var dx = Tensor.Empty(Cpu, DType.Float32, dims);
        using var dgamma = Tensor.Empty(Cpu, DType.Float32, c);
        using var dbeta = Tensor.Empty(Cpu, DType.Float32, c);
        Ops.BatchNormBackward(p, x, dy, gamma, mean, invStd, dx, dgamma, dbeta);
        return (y.ToArray(), dx.ToArray(), dgamma.ToArray(), dbeta.ToArray());
    }
}
