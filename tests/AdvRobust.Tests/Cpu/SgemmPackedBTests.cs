using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// <see cref="Sgemm.RunPackedB"/> (op(B) handed over in <see cref="Sgemm.PackedB"/>'s layout, as the convolutions'
/// im2col writes it) gives the same bits as <see cref="Sgemm.Run"/> on the unpacked B: sizes with several K blocks,
/// a last micro-panel part full, one and several tiles, one thread and all.
/// </summary>
public class SgemmPackedBTests
{
    private static readonly int[][] Sizes = [[1, 1, 1], [7, 600, 33], [200, 257, 70], [64, 576, 1024], [500, 40, 3]];

    [Test]
    public void RunPackedB_SameBitsAsRun([Values(0, 1, 2, 3, 4)] int size, [Values] bool transA,
        [Values(0, 1)] int maxThreads)
    {
        int m = Sizes[size][0], k = Sizes[size][1], n = Sizes[size][2];
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] a = rng.Uniform(m * k), b = rng.Uniform(k * n), c0 = rng.Uniform(m * n);
        var layout = new Sgemm.PackedB(k, n);
        var packed = new float[layout.Length];
        Array.Fill(packed, float.NaN);  // every lane must be written: padding lanes as zeros
        for (int p = 0; p < k; p++)
        for (int j = 0; j < layout.PaddedN; j++)
            packed[layout.Offset(p, j)] = j < n ? b[p * n + j] : 0f;
        Assert.That(packed, Has.None.NaN, "the layout leaves no hole");

        float[] want = (float[])c0.Clone(), got = (float[])c0.Clone();
        Sgemm.Run(a, transA, b, false, want, m, n, k, 0.75f, 0.5f, maxThreads: maxThreads);
        Sgemm.RunPackedB(a, transA, packed, got, m, n, k, 0.75f, 0.5f, maxThreads);
        for (int e = 0; e < want.Length; e++)
            Assert.That(BitConverter.SingleToInt32Bits(got[e]), Is.EqualTo(BitConverter.SingleToInt32Bits(want[e])),
                $"element {e}: {got[e]} vs {want[e]}, {m}×{k}×{n} transA {transA}, seed {rng.Seed}");
    }

    /// <summary>beta = 0 ignores what C held (NaN included): the
    /// bits must be those of beta = 1 on a C of +0 (fma(alpha, sum, +0), then the later blocks), NaN in C ignored.
    /// Products whose sum is −0 (a zero column of B) check the sign rule: fma(alpha, −0, +0) is +0.</summary>
    [Test]
    public void Run_BetaZero_SameBitsAsBetaOneOnZeros([Values(1, 2, 3, 4)] int size, [Values] bool transA,
        [Values] bool transB, [Values("Avx512", "Avx2", "Scalar")] string name)
    {
        var kernel = Enum.Parse<SgemmKernel>(name);
        if (!SgemmKernels.IsSupported(kernel)) Assert.Ignore($"this CPU cannot run the {kernel} SGEMM kernel");
        int m = Sizes[size][0], k = Sizes[size][1], n = Sizes[size][2];
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] a = rng.Uniform(m * k), b = rng.Uniform(k * n);
        for (int p = 0; p < k; p++) b[transB ? p : p * n] = -0f;  // column 0 of op(B) is −0: sums of −0
        float[] want = new float[m * n], got = new float[m * n];
        Array.Fill(got, float.NaN);
        Sgemm.Run(a, transA, b, transB, want, m, n, k, 0.75f, 1f, kernel);
        Sgemm.Run(a, transA, b, transB, got, m, n, k, 0.75f, 0f, kernel);
        for (int e = 0; e < want.Length; e++)
            Assert.That(BitConverter.SingleToInt32Bits(got[e]), Is.EqualTo(BitConverter.SingleToInt32Bits(want[e])),
                $"element {e}: {got[e]} vs {want[e]}, {kernel} {m}×{k}×{n} transA {transA} transB {transB}, seed {rng.Seed}");
    }

    /// <summary><see cref="Sgemm.RunBlock"/> over every K block in order, on a cleared C with a row stride wider than
    /// N (a block of columns of a larger matrix), op(A) packed once by <see cref="Sgemm.PackedA"/> and each block of
    /// op(B) packed just before it: the bits of <see cref="Sgemm.Run"/> with alpha = 1, beta = 0; the columns past N
    /// are left alone.</summary>
    [Test]
    public void RunBlock_EveryKBlockInOrder_SameBitsAsRun([Values(0, 1, 2, 3, 4)] int size, [Values] bool transA)
    {
        int m = Sizes[size][0], k = Sizes[size][1], n = Sizes[size][2], ldc = n + 5;
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] a = rng.Uniform(m * k), b = rng.Uniform(k * n);
        float[] want = new float[m * n], got = new float[m * ldc];
        Sgemm.Run(a, transA, b, false, want, m, n, k, 1f, 0f, maxThreads: 1);

        var layout = new Sgemm.PackedA(m, k);
        var packedA = new float[layout.Length];
        layout.Pack(a, transA, packedA);
        var bLayout = new Sgemm.PackedB(k, n);
        Array.Fill(got, float.NaN);
        for (int i = 0; i < m; i++) got.AsSpan(i * ldc, n).Clear();
        for (int p0 = 0; p0 < k; p0 += layout.KcMax)
        {
            int kc = Math.Min(layout.KcMax, k - p0);
            var block = new float[kc * bLayout.PaddedN];
            for (int p = p0; p < p0 + kc; p++)
            for (int j = 0; j < bLayout.PaddedN; j++)
                block[bLayout.Offset(p, j) - (long)p0 * bLayout.PaddedN] = j < n ? b[p * n + j] : 0f;
            Sgemm.RunBlock(packedA, layout, p0, block, n, got, ldc);
        }
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
                Assert.That(BitConverter.SingleToInt32Bits(got[i * ldc + j]),
                    Is.EqualTo(BitConverter.SingleToInt32Bits(want[i * n + j])),
                    $"element ({i}, {j}): {got[i * ldc + j]} vs {want[i * n + j]}, {m}×{k}×{n} transA {transA}, seed {rng.Seed}");
            Assert.That(got.AsSpan(i * ldc + n, 5).ToArray(), Has.All.NaN, $"row {i} past N");
        }
    }
}
