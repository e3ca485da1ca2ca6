using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// The CPU convolution runs a large batch as whole chunks per core (each core: im2col, a one-thread GEMM, the unpack
// with bias and ReLU) and a batch of one as a single chunk spread over every core. Sample n's forward and data
// gradient must be bitwise the same either way, and the fused bias + ReLU bitwise the three separate ops.
public class ConvChunkTests
{
    private static IBackend Cpu => Backends.Cpu;

    // (n, c, size, k, r, stride, pad): multi-sample chunks per core (L = 800, 49 columns a sample), one-sample chunks
    // per core (L = 576 on 28×28), stride 2, and an odd batch that leaves the cores unequal shares.
    public static IEnumerable<TestCaseData> Geometries()
    {
        yield return new TestCaseData(24, 32, 7, 8, 5, 1, 2);
        yield return new TestCaseData(3, 64, 28, 4, 3, 1, 1);
        yield return new TestCaseData(9, 16, 15, 6, 3, 2, 1);
        yield return new TestCaseData(5, 16, 28, 4, 3, 1, 1);
    }

    [TestCaseSource(nameof(Geometries))]
    public void ForwardAndBackwardData_WholeBatch_MatchOneSampleCalls(int n, int c, int size, int k, int r,
        int stride, int pad)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        int outSize = p.OutSize(size, r), xSample = c * size * size, ySample = k * outSize * outSize;
        float[] xs = rng.Normal(n * xSample), ws = rng.Normal(k * c * r * r), g = rng.Normal(n * ySample);
        using var w = Tensor.FromArray(Cpu, ws, k, c, r, r);
        float[] y = Forward(p, xs, w, n, c, size), dx = BackwardData(p, g, w, n, c, size, outSize);
        for (int s = 0; s < n; s++)
        {
            float[] ys = Forward(p, xs[(s * xSample)..((s + 1) * xSample)], w, 1, c, size);
            Assert.That(y[(s * ySample)..((s + 1) * ySample)], Is.EqualTo(ys), $"forward, sample {s}");
            float[] dxs = BackwardData(p, g[(s * ySample)..((s + 1) * ySample)], w, 1, c, size, outSize);
            Assert.That(dx[(s * xSample)..((s + 1) * xSample)], Is.EqualTo(dxs), $"backward data, sample {s}");
        }
    }

    [TestCaseSource(nameof(Geometries))]
    public void BiasReluForward_IsBitwiseConvThenBiasThenRelu(int n, int c, int size, int k, int r, int stride,
        int pad)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        int outSize = p.OutSize(size, r);
        float[] biases = rng.Normal(k);
        biases[0] = -0f;
        using var x = Tensor.FromArray(Cpu, rng.Normal(n * c * size * size), n, c, size, size);
        using var w = Tensor.FromArray(Cpu, rng.Normal(k * c * r * r), k, c, r, r);
        using var bias = Tensor.FromArray(Cpu, biases, k);
        using var fused = Tensor.Empty(Cpu, DType.Float32, n, k, outSize, outSize);
        using var unfused = Tensor.Empty(Cpu, DType.Float32, n, k, outSize, outSize);
        Ops.Conv2dBiasReluForward(p, x, w, bias, fused);
        Ops.Conv2dForward(p, x, w, unfused);
        Ops.ChannelAffine(unfused, null, bias, unfused);
        Ops.Unary(UnaryOp.Relu, unfused, unfused);
        Assert.That(Bits(fused.ToArray()), Is.EqualTo(Bits(unfused.ToArray())));
    }

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static float[] Forward(ConvParams p, float[] xs, Tensor w, int n, int c, int size)
    {
        using var x = Tensor.FromArray(Cpu, xs, n, c, size, size);
        using var y = Tensor.Empty(Cpu, DType.Float32, Ops.Conv2dOutputShape(p, x.Shape, w.Shape).Dims.ToArray());
        Ops.Conv2dForward(p, x, w, y);
        return y.ToArray();
    }

    private static float[] BackwardData(ConvParams p, float[] g, Tensor w, int n, int c, int size, int outSize)
    {
        using var dy = Tensor.FromArray(Cpu, g, n, w.Shape[0], outSize, outSize);
        using var dx = Tensor.Empty(Cpu, DType.Float32, n, c, size, size);
        Ops.Conv2dBackwardData(p, dy, w, dx);
        return dx.ToArray();
    }
}
