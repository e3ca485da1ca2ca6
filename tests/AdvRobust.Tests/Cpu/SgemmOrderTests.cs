using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The blocked SGEMM on awkward sizes (1, 7, 33, 127, 1023 on each side, every transpose), checked twice: against
/// GemmReference (double accumulators) within the rounding of a float sum, and bit for bit against the summation
/// order the CPU results are pinned to (the golden digests): K cut into ceil(K/256) equal blocks; per element and
/// block a float sum from 0 with one fused multiply-add per k in order; then C = fma(alpha, sum, C) block by block,
/// after C was scaled by beta. Any tile shape, packing or thread split of the vector kernels must keep exactly that.
/// </summary>
public class SgemmOrderTests
{
    private static readonly int[][] Sizes =
        [[1, 1, 1], [7, 33, 127], [33, 7, 1023], [127, 1023, 7], [1023, 127, 33], [33, 1023, 600]];

    private static readonly string[] Kernels = Enum.GetNames<SgemmKernel>();

    [Test]
    public void Sgemm_AwkwardSizes_SameBitsAsPinnedOrderAndCloseToReference(
        [Values(0, 1, 2, 3, 4, 5)] int size, [Values] bool transA, [Values] bool transB,
        [ValueSource(nameof(Kernels))] string name)
    {
        var kernel = Enum.Parse<SgemmKernel>(name);
        if (!SgemmKernels.IsSupported(kernel)) Assert.Ignore($"this CPU cannot run the {kernel} SGEMM kernel");
        int m = Sizes[size][0], k = Sizes[size][1], n = Sizes[size][2];
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] a = rng.Uniform(m * k), b = rng.Uniform(k * n), c0 = rng.Uniform(m * n);
        const float alpha = 0.75f, beta = 0.5f;
        var got = (float[])c0.Clone();
        Sgemm.Run(a, transA, b, transB, got, m, n, k, alpha, beta, kernel);

        var pinned = PinnedOrder(a, transA, b, transB, c0, m, n, k, alpha, beta);
        var reference = (float[])c0.Clone();
        GemmReference.Run(a, transA, b, transB, reference, m, n, k, alpha, beta);
        string what = $"{kernel} {m}×{k}×{n} transA {transA} transB {transB}, seed {rng.Seed}";
        // The scalar kernel (CPUs without FMA) rounds each product before adding it: only the vector kernels are pinned.
        for (int e = 0; e < got.Length && kernel != SgemmKernel.Scalar; e++)
        {
            Assert.That(BitConverter.SingleToInt32Bits(got[e]), Is.EqualTo(BitConverter.SingleToInt32Bits(pinned[e])),
                $"element {e} ({got[e]} vs pinned order {pinned[e]}), {what}");
        }
        AssertClose.All(reference, got, GemmTests.Atol(k), 1e-5, what);
    }

    /// <summary>The pinned order, one element at a time (see the class comment).</summary>
    private static float[] PinnedOrder(float[] a, bool transA, float[] b, bool transB, float[] c0, int m, int n, int k,
        float alpha, float beta)
    {
        var c = new float[m * n];
        int blocks = (k + 255) / 256, kc = k == 0 ? 0 : (k + blocks - 1) / blocks;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float v = beta == 0f ? 0f : beta == 1f ? c0[i * n + j] : c0[i * n + j] * beta;
                for (int p0 = 0; p0 < k; p0 += kc)
                {
                    float sum = 0f;
                    for (int p = p0; p < Math.Min(k, p0 + kc); p++)
                    {
                        float aip = transA ? a[p * m + i] : a[i * k + p];
                        float bpj = transB ? b[j * k + p] : b[p * n + j];
                        sum = MathF.FusedMultiplyAdd(aip, bpj, sum);
                    }
                    v = MathF.FusedMultiplyAdd(alpha, sum, v);
                }
                c[i * n + j] = v;
            }
        }
        return c;
    }
}
