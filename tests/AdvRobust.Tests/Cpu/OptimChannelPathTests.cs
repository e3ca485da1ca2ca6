using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The vector and multi-core paths of the CPU SgdStep (vectors of 8 over two contiguous ranges, a scalar tail) and
/// ChannelSum (sixteen channels per task in four double vectors, four at a time past them) against the plain serial
/// loops, bit for bit: SgdStep as float products then sums per element, ChannelSum as one double sum per channel,
/// n-major. Sizes large enough to split over cores, with tails that are not whole vectors or whole groups.
/// </summary>
public class OptimChannelPathTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(0.9f, 5e-4f, false, 70_001)]
    [TestCase(0.9f, 5e-4f, true, 70_001)]
    [TestCase(0f, 0f, false, 13)]
    [TestCase(0.5f, 0.1f, true, 65_543)]
    public void SgdStep_VectorAndChunks_MatchSerialFloatLoopBitwise(float momentum, float weightDecay, bool nesterov,
        int n)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new SgdParams(0.05f, momentum, weightDecay, nesterov);
        float[] w = rng.Normal(n), buf = new float[n];
        using var param = Tensor.FromArray(Cpu, w, n);
        using var momentumBuffer = Tensor.Zeros(Cpu, n);
        for (int step = 0; step < 3; step++)
        {
            float[] g = rng.Normal(n);
            using var grad = Tensor.FromArray(Cpu, g, n);
            Ops.SgdStep(p, param, grad, momentumBuffer);
            for (int i = 0; i < n; i++)
            {
                float gi = g[i] + weightDecay * w[i];
                float b = momentum * buf[i] + gi;
                buf[i] = b;
                w[i] -= p.LearningRate * (nesterov ? gi + momentum * b : b);
            }
        }
        Assert.That(Bits(param.ToArray()), Is.EqualTo(Bits(w)), $"param, seed {rng.Seed}");
        Assert.That(Bits(momentumBuffer.ToArray()), Is.EqualTo(Bits(buf)), $"momentum buffer, seed {rng.Seed}");
    }

    [TestCase(3, 37, 29)]
    [TestCase(4, 64, 1)]
    [TestCase(2, 16, 100)]
    [TestCase(5, 35, 3)]
    public void ChannelSum_SixteenChannelGroups_MatchSerialDoubleSumBitwise(int n, int c, int l)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Normal(n * c * l, 100f);
        using var x = Tensor.FromArray(Cpu, xs, n, c, l);
        using var sum = Tensor.Empty(Cpu, DType.Float32, c);
        Ops.ChannelSum(x, sum);
        var expected = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double acc = 0;
            for (int i = 0; i < n; i++)
            for (int k = 0; k < l; k++) acc += xs[(i * c + ch) * l + k];
            expected[ch] = (float)acc;
        }
        Assert.That(Bits(sum.ToArray()), Is.EqualTo(Bits(expected)), $"seed {rng.Seed}");
    }

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();
}
