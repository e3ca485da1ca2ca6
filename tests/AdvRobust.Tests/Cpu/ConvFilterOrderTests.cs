using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The CPU filter gradient, computed block by block (one K block of each chunk's GEMM at a time, col packed straight
/// into the SGEMM's A panels, dWᵀ = col·dYᵀ), against the computation the golden digests were pinned with: per chunk
/// of B samples in batch order, the whole chunk's im2col and one Sgemm.Run dW (K×L) += dY (K × B·PQ) · colᵀ (beta 0 for
/// the first chunk), B as the backend chooses it (about 2048 columns, at most 2^23 floats of col). Bit for bit, on
/// awkward shapes: K and L off the micro-tile sizes (MR = 12, NR = 32), chunks that do not divide N, K blocks that
/// straddle samples, stride 2, R ≠ S, padding 0 to 2, the small CNN's two layers, and a batch of one.
/// </summary>
public class ConvFilterOrderTests
{
    public static IEnumerable<TestCaseData> Shapes()
    {
        // (N, C, H, W, K, R, S, stride, padding)
        yield return new TestCaseData(256, 1, 28, 28, 32, 5, 5, 1, 2).SetName("SmallCnnConv1");
        yield return new TestCaseData(37, 32, 14, 14, 64, 5, 5, 1, 2).SetName("SmallCnnConv2_37Samples");
        yield return new TestCaseData(1, 3, 9, 11, 5, 3, 3, 1, 1).SetName("OneSample");
        yield return new TestCaseData(13, 7, 10, 9, 37, 3, 2, 2, 1).SetName("Stride2_RNotS");
        yield return new TestCaseData(5, 17, 8, 8, 33, 3, 3, 1, 0).SetName("NoPadding_KOffTile");
        yield return new TestCaseData(3, 64, 6, 6, 70, 3, 3, 2, 1).SetName("WideL_Stride2");
        yield return new TestCaseData(40, 2, 5, 7, 3, 5, 5, 1, 2).SetName("KernelAsLargeAsImage");
    }

    [TestCaseSource(nameof(Shapes))]
    public void Conv2dBackwardFilter_SameBitsAsChunkWideGemm(int n, int c, int h, int w, int k, int r, int s,
        int stride, int pad)
    {
        var p = new ConvParams(stride, pad);
        int outH = p.OutSize(h, r), outW = p.OutSize(w, s);
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Uniform(n * c * h * w), dys = rng.Uniform(n * k * outH * outW);
        using var x = Tensor.FromArray(CpuBackend.Instance, xs, n, c, h, w);
        using var dy = Tensor.FromArray(CpuBackend.Instance, dys, n, k, outH, outW);
        using var dw = Tensor.FromArray(CpuBackend.Instance, rng.Uniform(k * c * r * s), k, c, r, s);
        CpuBackend.Instance.Conv2dBackwardFilter(p, x, dy, dw);
        float[] got = dw.ToArray(), pinned = ChunkWide(xs, dys, n, c, h, w, k, r, s, stride, pad, outH, outW);
        for (int e = 0; e < got.Length; e++)
        {
            Assert.That(BitConverter.SingleToInt32Bits(got[e]), Is.EqualTo(BitConverter.SingleToInt32Bits(pinned[e])),
                $"dW element {e}: {got[e]} vs the chunk-wide GEMM's {pinned[e]}, seed {rng.Seed}");
        }
    }

    /// <summary>The order the digests were pinned with: plain im2col of each chunk, then one SGEMM per chunk.</summary>
    private static float[] ChunkWide(float[] x, float[] dy, int n, int c, int h, int w, int k, int r, int s,
        int stride, int pad, int outH, int outW)
    {
        int pq = outH * outW, l = c * r * s;
        int b = Math.Clamp(Math.Min(2048 / pq, (1 << 23) / Math.Max(1, l * pq)), 1, Math.Max(n, 1));
        var dw = new float[k * l];
        for (int n0 = 0; n0 < n; n0 += b)
        {
            int nb = Math.Min(b, n - n0), cols = nb * pq;
            var col = new float[l * cols];
            var dyc = new float[k * cols];
            for (int i = 0; i < nb; i++)
            {
                for (int ch = 0; ch < c; ch++)
                for (int dr = 0; dr < r; dr++)
                for (int ds = 0; ds < s; ds++)
                for (int oh = 0; oh < outH; oh++)
                for (int ow = 0; ow < outW; ow++)
                {
                    int ih = oh * stride - pad + dr, iw = ow * stride - pad + ds;
                    bool inside = ih >= 0 && ih < h && iw >= 0 && iw < w;
                    col[((ch * r + dr) * s + ds) * cols + i * pq + oh * outW + ow] =
                        inside ? x[(((n0 + i) * c + ch) * h + ih) * w + iw] : 0f;
                }
                for (int kk = 0; kk < k; kk++)
                    Array.Copy(dy, ((n0 + i) * k + kk) * pq, dyc, kk * cols + i * pq, pq);
            }
            Sgemm.Run(dyc, false, col, true, dw, k, l, cols, 1f, n0 == 0 ? 0f : 1f);
        }
        return dw;
    }
}
