using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The CPU convolution's per-core path (im2col fused into the GEMM one K block and one column block at a time from a
/// zero-padded input; col2im into a zero-padded dx) gives bit for bit what the plain definition gives with the same
/// SGEMM: y[n] = Sgemm.Run(W, im2col(x[n])) and dx[n] = col2im(Sgemm.Run(Wᵀ, dy[n])), col2im summing in float from
/// +0 in (r, s) order. Shapes: a ResNet first stage, K below and above a kernel's rows, output rows that straddle
/// micro-panels and samples, several K blocks, several column blocks with a part-full last panel, stride 2 (rows
/// of 16, 8, 4 and odd widths), 5×5, 1×1 without padding, an odd batch, and a batch of one (the chunk spread over
/// every core).
/// </summary>
public class ConvFusedTests
{
    /// <summary>The im2col path on every shape: this fixture pins its bits, so Winograd (which rounds differently on
    /// the 3×3 stride-1 shapes with many channels, see WinogradTests) is off here.</summary>
    private static readonly IBackend Cpu = new CpuBackend { Winograd = false };

    // (n, c, h, w, k, r, stride, pad)
    public static IEnumerable<TestCaseData> Shapes()
    {
        yield return new TestCaseData(6, 64, 32, 32, 64, 3, 1, 1).SetArgDisplayNames("resnet stage 1");
        yield return new TestCaseData(4, 13, 17, 19, 7, 3, 1, 1).SetArgDisplayNames("K 7, Q 19");
        yield return new TestCaseData(5, 9, 21, 20, 13, 3, 2, 1).SetArgDisplayNames("stride 2, K 13");
        yield return new TestCaseData(8, 20, 12, 12, 17, 5, 2, 2).SetArgDisplayNames("5x5 stride 2");
        yield return new TestCaseData(6, 24, 9, 9, 30, 1, 2, 0).SetArgDisplayNames("1x1 stride 2");
        yield return new TestCaseData(3, 128, 16, 16, 40, 3, 1, 1).SetArgDisplayNames("5 K blocks");
        yield return new TestCaseData(40, 64, 6, 6, 20, 3, 1, 1).SetArgDisplayNames("10 samples a chunk, 2 column blocks");
        yield return new TestCaseData(7, 16, 15, 11, 25, 3, 1, 1).SetArgDisplayNames("odd batch");
        yield return new TestCaseData(1, 32, 10, 14, 9, 3, 1, 1).SetArgDisplayNames("batch of one");
        // Stride 2 with output rows of 16, 8 and 4 (the vector gathers), each batch large enough for per-core chunks.
        yield return new TestCaseData(4, 64, 32, 32, 20, 3, 2, 1).SetArgDisplayNames("stride 2, Q 16");
        yield return new TestCaseData(8, 256, 16, 16, 12, 3, 2, 1).SetArgDisplayNames("stride 2, Q 8");
        yield return new TestCaseData(32, 256, 8, 8, 8, 3, 2, 1).SetArgDisplayNames("stride 2, Q 4");
    }

    [TestCaseSource(nameof(Shapes))]
    public void Forward_SameBitsAsSgemmOnIm2Col(int n, int c, int h, int w, int k, int r, int stride, int pad)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        var g = new Geometry(n, c, h, w, k, r, p);
        float[] xs = rng.Normal(n * g.XSample), ws = rng.Normal(k * g.L), biases = rng.Normal(k);
        biases[0] = -0f;
        using var x = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var wt = Tensor.FromArray(Cpu, ws, k, c, r, r);
        using var bias = Tensor.FromArray(Cpu, biases, k);
        using var y = Tensor.Empty(Cpu, DType.Float32, n, k, g.P, g.Q);
        using var fused = Tensor.Empty(Cpu, DType.Float32, n, k, g.P, g.Q);
        Cpu.Conv2dForward(p, x, wt, y);
        Cpu.Conv2dBiasReluForward(p, x, wt, bias, fused);
        float[] got = y.ToArray(), gotFused = fused.ToArray(), col = new float[g.L * g.PQ], want = new float[g.YSample];
        for (int s = 0; s < n; s++)
        {
            Im2Col(g, xs.AsSpan(s * g.XSample, g.XSample), col);
            Sgemm.Run(ws, false, col, false, want, k, g.PQ, g.L, 1f, 0f, maxThreads: 1);
            for (int e = 0; e < g.YSample; e++)
            {
                AssertBits(got[s * g.YSample + e], want[e], $"y, sample {s}, element {e}, seed {rng.Seed}");
                float relu = Math.Max(want[e] + biases[e / g.PQ], 0f);
                AssertBits(gotFused[s * g.YSample + e], relu, $"relu(y + b), sample {s}, element {e}, seed {rng.Seed}");
            }
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void BackwardData_SameBitsAsCol2ImOfSgemm(int n, int c, int h, int w, int k, int r, int stride, int pad)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        var g = new Geometry(n, c, h, w, k, r, p);
        float[] gs = rng.Normal(n * g.YSample), ws = rng.Normal(k * g.L);
        using var dy = Tensor.FromArray(Cpu, gs, n, k, g.P, g.Q);
        using var wt = Tensor.FromArray(Cpu, ws, k, c, r, r);
        using var dx = Tensor.FromArray(Cpu, rng.Normal(n * g.XSample), n, c, h, w);  // overwritten, not added to
        Cpu.Conv2dBackwardData(p, dy, wt, dx);
        float[] got = dx.ToArray(), dcol = new float[g.L * g.PQ];
        for (int s = 0; s < n; s++)
        {
            Sgemm.Run(ws, true, gs.AsSpan(s * g.YSample, g.YSample), false, dcol, g.L, g.PQ, k, 1f, 0f, maxThreads: 1);
            float[] want = Col2Im(g, dcol);
            for (int e = 0; e < g.XSample; e++)
                AssertBits(got[s * g.XSample + e], want[e], $"dx, sample {s}, element {e}, seed {rng.Seed}");
        }
    }

    private static void AssertBits(float got, float want, string what)
    {
        if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(want))
            Assert.Fail($"{what}: {got:R} vs {want:R}");
    }

    private readonly record struct Geometry(int N, int C, int H, int W, int K, int R, ConvParams Params)
    {
        public int P => Params.OutSize(H, R);
        public int Q => Params.OutSize(W, R);
        public int PQ => P * Q;
        public int L => C * R * R;
        public int XSample => C * H * W;
        public int YSample => K * PQ;
    }

    /// <summary>col[(c·R + r)·R + s, p·Q + q] = x[c, p·stride − pad + r, q·stride − pad + s], 0 outside.</summary>
    private static void Im2Col(Geometry g, ReadOnlySpan<float> x, float[] col)
    {
        int st = g.Params.Stride, pad = g.Params.Padding;
        for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.R; s++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        {
            int hh = p * st - pad + r, ww = q * st - pad + s;
            bool inside = hh >= 0 && hh < g.H && ww >= 0 && ww < g.W;
            col[((c * g.R + r) * g.R + s) * g.PQ + p * g.Q + q] = inside ? x[(c * g.H + hh) * g.W + ww] : 0f;
        }
    }

    /// <summary>dx[c, h, w] = Σ over (r, s) in order of dcol[(c·R + r)·R + s, p·Q + q] where the tap lands, in float
    /// from +0.</summary>
    private static float[] Col2Im(Geometry g, float[] dcol)
    {
        int st = g.Params.Stride, pad = g.Params.Padding;
        var dx = new float[g.XSample];
        for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
        for (int s = 0; s < g.R; s++)
        for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++)
        {
            int hh = p * st - pad + r, ww = q * st - pad + s;
            if (hh >= 0 && hh < g.H && ww >= 0 && ww < g.W)
                dx[(c * g.H + hh) * g.W + ww] += dcol[((c * g.R + r) * g.R + s) * g.PQ + p * g.Q + q];
        }
        return dx;
    }
}
