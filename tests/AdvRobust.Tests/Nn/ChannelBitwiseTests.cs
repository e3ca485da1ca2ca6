using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// ChannelSum adds four channels at once (one lane each) and ChannelAffine runs one vector pass over contiguous
// ranges; both must give bitwise what the plain serial loops give: the double sum n-major, and x·s rounded then + b.
public class ChannelBitwiseTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(3, 9, 37)]
    [TestCase(2, 8, 1)]
    [TestCase(5, 3, 5)]
    public void ChannelSumAndAffine_RandomInput_MatchSerialLoopsBitwise(int n, int c, int l)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Normal(n * c * l, 100f), scale = rng.Normal(c), shift = rng.Normal(c);
        using var x = Tensor.FromArray(Cpu, xs, n, c, l);
        using var sum = Tensor.Empty(Cpu, DType.Float32, c);
        Ops.ChannelSum(x, sum);
        var expectedSum = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double acc = 0;
            for (int i = 0; i < n; i++)
            for (int k = 0; k < l; k++) acc += xs[(i * c + ch) * l + k];
            expectedSum[ch] = (float)acc;
        }
        Assert.That(Bits(sum.ToArray()), Is.EqualTo(Bits(expectedSum)), "sum");

        using var s = Tensor.FromArray(Cpu, scale, c);
        using var b = Tensor.FromArray(Cpu, shift, c);
        using var y = Tensor.Empty(Cpu, DType.Float32, n, c, l);
        Ops.ChannelAffine(x, s, b, y);
        var expected = new float[xs.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            float v = xs[i] * scale[i / l % c];
            expected[i] = v + shift[i / l % c];
        }
        Assert.That(Bits(y.ToArray()), Is.EqualTo(Bits(expected)), "affine");
    }

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();
}
