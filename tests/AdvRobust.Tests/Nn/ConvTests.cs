using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// Conv2d on the CPU (im2col + SGEMM). Shape letters: x N×C×H×W, w K×C×R×S (R = S here), y N×K×P×Q.
// The backward passes are checked against central differences of L = ⟨G, conv(x, w)⟩; the forward against direct
// loops in double. The convolution is linear in x and in w, so a large step (h = 1e-2) is exact up to rounding.
public class ConvTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(1, new float[] { 12, 21, 16, 27, 45, 33, 24, 39, 28 })]
    [TestCase(2, new float[] { 12, 16, 24, 28 })]
    public void Conv2dForward_OnesKernelPadding1_SumsNeighbourhoods(int stride, float[] expected)
    {
        // x = [[1,2,3],[4,5,6],[7,8,9]], a 3×3 kernel of ones, padding 1: each output is the sum of the 3×3
        // neighbourhood inside the image; stride 2 keeps the four corners.
        using var x = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 1, 1, 3, 3);
        using var w = Tensor.FromArray(Cpu, Enumerable.Repeat(1f, 9).ToArray(), 1, 1, 3, 3);
        using var y = Conv(new ConvParams(stride, 1), x, w);
        Assert.That(y.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Conv2dForward_TwoChannelsTwoFilters_MatchesHandValues()
    {
        // Channel 0 = 1..4, channel 1 = 10·(1..4) on a 2×2 image, 2×2 kernels, no padding: one output per filter.
        // Filter 0 picks x[0,0,0] − x[1,1,1] = 1 − 40; filter 1 sums channel 1 = 100.
        using var x = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 10, 20, 30, 40 }, 1, 2, 2, 2);
        float[] filters = { 1, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 1, 1, 1 };
        using var w = Tensor.FromArray(Cpu, filters, 2, 2, 2, 2);
        using var y = Conv(new ConvParams(1, 0), x, w);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { -39, 100 }));
    }

    public static IEnumerable<TestCaseData> Geometries()
    {
        // (N, C, H, W, K, kernel, stride, padding): awkward sizes, 3×3 and 5×5, stride 1/2, padding 0/1/2.
        yield return new TestCaseData(3, 2, 7, 5, 4, 3, 1, 0);
        yield return new TestCaseData(3, 2, 7, 5, 4, 3, 1, 1);
        yield return new TestCaseData(3, 2, 7, 5, 4, 3, 2, 0);
        yield return new TestCaseData(3, 2, 7, 5, 4, 3, 2, 1);
        yield return new TestCaseData(3, 2, 7, 5, 4, 5, 1, 2);
        yield return new TestCaseData(3, 2, 7, 5, 4, 5, 2, 2);
        yield return new TestCaseData(2, 3, 6, 6, 1, 5, 2, 1);
    }

    [TestCaseSource(nameof(Geometries))]
    public void Conv2dForward_RandomInput_MatchesDirectLoops(int n, int c, int h, int w, int k, int r, int stride,
        int pad)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Normal(n * c * h * w), ws = rng.Normal(k * c * r * r);
        var p = new ConvParams(stride, pad);
        var expected = DirectConv(xs, ws, n, c, h, w, k, r, p);
        AssertClose.All(expected, ConvForward(p, xs, ws, n, c, h, w, k, r), 1e-5, 1e-5, $"forward, seed {rng.Seed}");
    }

    [TestCaseSource(nameof(Geometries))]
    public void Conv2dBackwardData_RandomInput_MatchesFiniteDifference(int n, int c, int h, int w, int k, int r,
        int stride, int pad)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        float[] xs = rng.Normal(n * c * h * w), ws = rng.Normal(k * c * r * r);
        int outP = p.OutSize(h, r), outQ = p.OutSize(w, r);
        float[] g = rng.Normal(n * k * outP * outQ);
        using var wt = Tensor.FromArray(Cpu, ws, k, c, r, r);
        using var dy = Tensor.FromArray(Cpu, g, n, k, outP, outQ);
        using var dx = Tensor.Empty(Cpu, DType.Float32, n, c, h, w);
        Ops.Fill(dx, float.NaN);
        Ops.Conv2dBackwardData(p, dy, wt, dx);

        double Loss() => GradCheck.Dot(g, ConvForward(p, xs, ws, n, c, h, w, k, r));
        AssertClose.All(FiniteDifference.Gradient(Loss, xs, 1e-2f), dx.ToArray(), 1e-3, 1e-2, $"dx, seed {rng.Seed}");
    }

    [TestCaseSource(nameof(Geometries))]
    public void Conv2dBackwardFilter_RandomInput_MatchesFiniteDifference(int n, int c, int h, int w, int k, int r,
        int stride, int pad)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        float[] xs = rng.Normal(n * c * h * w), ws = rng.Normal(k * c * r * r);
        int outP = p.OutSize(h, r), outQ = p.OutSize(w, r);
        float[] g = rng.Normal(n * k * outP * outQ);
        using var xt = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var dy = Tensor.FromArray(Cpu, g, n, k, outP, outQ);
        using var dw = Tensor.Empty(Cpu, DType.Float32, k, c, r, r);
        Ops.Fill(dw, float.NaN);
        Ops.Conv2dBackwardFilter(p, xt, dy, dw);

        double Loss() => GradCheck.Dot(g, ConvForward(p, xs, ws, n, c, h, w, k, r));
        AssertClose.All(FiniteDifference.Gradient(Loss, ws, 1e-2f), dw.ToArray(), 1e-3, 1e-2, $"dw, seed {rng.Seed}");
    }

    [TestCase(7)]
    [TestCase(48)]
    public void Conv2dForwardAndBackwardData_BatchSplit_AreBitIdentical(int size)
    {
        // 7×7 planes put the whole batch in one chunk GEMM; 48×48 (2304 columns) gives every sample its own.
        // Either way sample n's output must not depend on which other samples share its call.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 5, c = 2, k = 3, r = 3;
        var p = new ConvParams(1, 1);
        float[] xs = rng.Normal(n * c * size * size), ws = rng.Normal(k * c * r * r);
        float[] g = rng.Normal(n * k * size * size);
        using var wt = Tensor.FromArray(Cpu, ws, k, c, r, r);
        var whole = ConvForward(p, xs, ws, n, c, size, size, k, r);
        var wholeDx = BackwardData(p, g, wt, n, c, size, k);
        int split = 2, plane = size * size;
        var head = ConvForward(p, xs[..(split * c * plane)], ws, split, c, size, size, k, r);
        var tail = ConvForward(p, xs[(split * c * plane)..], ws, n - split, c, size, size, k, r);
        Assert.That(head.Concat(tail).ToArray(), Is.EqualTo(whole), "forward");
        var headDx = BackwardData(p, g[..(split * k * plane)], wt, split, c, size, k);
        var tailDx = BackwardData(p, g[(split * k * plane)..], wt, n - split, c, size, k);
        Assert.That(headDx.Concat(tailDx).ToArray(), Is.EqualTo(wholeDx), "backward data");
    }

    [TestCase(100, 7)]
    [TestCase(3, 48)]
    public void Conv2dBackwardFilter_SeveralChunks_MatchesDirectSum(int n, int h)
    {
        // 100 samples of 7×7 (49 columns each) span several multi-sample chunk GEMMs that add into dW in turn;
        // 48×48 planes give each sample a chunk of its own.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int c = 2, k = 3, r = 3;
        var p = new ConvParams(1, 1);
        float[] xs = rng.Normal(n * c * h * h), g = rng.Normal(n * k * h * h);
        using var xt = Tensor.FromArray(Cpu, xs, n, c, h, h);
        using var dy = Tensor.FromArray(Cpu, g, n, k, h, h);
        using var dw = Tensor.Empty(Cpu, DType.Float32, k, c, r, r);
        Ops.Conv2dBackwardFilter(p, xt, dy, dw);

        // dW[k, c, a, b] = Σ_n,i,j dy[n, k, i, j]·x[n, c, i − 1 + a, j − 1 + b], in double.
        var expected = new float[k * c * r * r];
        for (int kk = 0; kk < k; kk++)
        for (int cc = 0; cc < c; cc++)
        for (int a = 0; a < r; a++)
        for (int b = 0; b < r; b++)
        {
            double sum = 0;
            for (int s = 0; s < n; s++)
            for (int i = 0; i < h; i++)
            for (int j = 0; j < h; j++)
            {
                int hi = i - 1 + a, wj = j - 1 + b;
                if (hi < 0 || hi >= h || wj < 0 || wj >= h) continue;
                sum += (double)g[((s * k + kk) * h + i) * h + j] * xs[((s * c + cc) * h + hi) * h + wj];
            }
            expected[((kk * c + cc) * r + a) * r + b] = (float)sum;
        }
        AssertClose.All(expected, dw.ToArray(), 1e-3, 1e-4, $"dw, seed {rng.Seed}");
    }

    private static float[] ConvForward(ConvParams p, float[] xs, float[] ws, int n, int c, int h, int w, int k, int r)
    {
        using var x = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var wt = Tensor.FromArray(Cpu, ws, k, c, r, r);
        using var y = Conv(p, x, wt);
        return y.ToArray();
    }

    private static Tensor Conv(ConvParams p, Tensor x, Tensor w)
    {
        var y = Tensor.Empty(Cpu, DType.Float32, Ops.Conv2dOutputShape(p, x.Shape, w.Shape).Dims.ToArray());
        Ops.Conv2dForward(p, x, w, y);
        return y;
    }

    private static float[] BackwardData(ConvParams p, float[] g, Tensor w, int n, int c, int size, int k)
    {
        int outSize = p.OutSize(size, w.Shape[2]);
        using var dy = Tensor.FromArray(Cpu, g, n, k, outSize, outSize);
        using var dx = Tensor.Empty(Cpu, DType.Float32, n, c, size, size);
        Ops.Conv2dBackwardData(p, dy, w, dx);
        return dx.ToArray();
    }

    /// <summary>y[n,k,i,j] = Σ_c,a,b x[n, c, i·stride − pad + a, j·stride − pad + b]·w[k,c,a,b], in double.</summary>
    private static float[] DirectConv(float[] x, float[] w, int n, int c, int h, int wd, int k, int r, ConvParams p)
    {
        int outP = p.OutSize(h, r), outQ = p.OutSize(wd, r);
        var y = new float[n * k * outP * outQ];
        for (int s = 0; s < n; s++)
        for (int kk = 0; kk < k; kk++)
        for (int i = 0; i < outP; i++)
        for (int j = 0; j < outQ; j++)
        {
            double sum = 0;
            for (int cc = 0; cc < c; cc++)
            for (int a = 0; a < r; a++)
            for (int b = 0; b < r; b++)
            {
                int hi = i * p.Stride - p.Padding + a, wj = j * p.Stride - p.Padding + b;
                if (hi < 0 || hi >= h || wj < 0 || wj >= wd) continue;
                sum += (double)x[((s * c + cc) * h + hi) * wd + wj] * w[((kk * c + cc) * r + a) * r + b];
            }
            y[((s * k + kk) * outP + i) * outQ + j] = (float)sum;
        }
        return y;
    }
}
