using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AdvRobust.Cpu;

/// <summary>The micro-kernel <see cref="Sgemm"/> runs; <see cref="SgemmKernels.Best"/> picks the fastest one.</summary>
internal enum SgemmKernel
{
    /// <summary>Plain C#, 6×16 tile: any CPU.</summary>
    Scalar,

    /// <summary>6×16 tile in 12 ymm accumulators: x64 with AVX2 and FMA.</summary>
    Avx2,

    /// <summary>6×32 tile in 12 zmm accumulators: x64 with AVX-512F.</summary>
    Avx512,
}

/// <summary>
/// SGEMM micro-kernels: C[MR×NR tile] += alpha * Ap·Bp over kc steps, where Ap holds kc columns of MR packed rows
/// (Ap[p*MR + r]) and Bp kc rows of NR packed columns (Bp[p*NR + j]), both zero-padded past the matrix edge.
/// The tile of C starts at c with row stride ldc; only its first mr rows and nr columns are written.
/// Per k step the vector kernels load one row of Bp (2 vectors), broadcast 6 values of Ap and issue 12 FMAs into
/// 12 accumulators: 15 registers, which fits the 16 ymm of AVX2. The AVX-512 kernel is the same loop on zmm; on
/// the CI machine it ran 1.1-2.7× faster than the AVX2 one (table in Sgemm.cs), so it is picked where supported.
/// </summary>
internal static unsafe class SgemmKernels
{
    public const int MR = 6;

    public static SgemmKernel Best =>
        IsSupported(SgemmKernel.Avx512) ? SgemmKernel.Avx512
        : IsSupported(SgemmKernel.Avx2) ? SgemmKernel.Avx2
        : SgemmKernel.Scalar;

    public static bool IsSupported(SgemmKernel kernel) => kernel switch
    {
        SgemmKernel.Avx512 => Avx512F.IsSupported,
        SgemmKernel.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        _ => true,
    };

    /// <summary>NR, the width of a packed B micro-panel and of the tile of C.</summary>
    public static int Nr(SgemmKernel kernel) => kernel == SgemmKernel.Avx512 ? 32 : 16;

    public static void Run(SgemmKernel kernel, int kc, float* a, float* b, float* c, int ldc, float alpha,
        int mr, int nr)
    {
        switch (kernel)
        {
            case SgemmKernel.Avx512: Avx512x6x32(kc, a, b, c, ldc, alpha, mr, nr); break;
            case SgemmKernel.Avx2: Avx2x6x16(kc, a, b, c, ldc, alpha, mr, nr); break;
            default: Scalar6x16(kc, a, b, c, ldc, alpha, mr, nr); break;
        }
    }

    private static void Avx2x6x16(int kc, float* a, float* b, float* c, int ldc, float alpha, int mr, int nr)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += MR, b += 16)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var ar = Avx.BroadcastScalarToVector256(a);
            c00 = Fma.MultiplyAdd(ar, b0, c00);
            c01 = Fma.MultiplyAdd(ar, b1, c01);
            ar = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(ar, b0, c10);
            c11 = Fma.MultiplyAdd(ar, b1, c11);
            ar = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(ar, b0, c20);
            c21 = Fma.MultiplyAdd(ar, b1, c21);
            ar = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(ar, b0, c30);
            c31 = Fma.MultiplyAdd(ar, b1, c31);
            ar = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(ar, b0, c40);
            c41 = Fma.MultiplyAdd(ar, b1, c41);
            ar = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(ar, b0, c50);
            c51 = Fma.MultiplyAdd(ar, b1, c51);
        }

        if (mr == MR && nr == 16)
        {
            var va = Vector256.Create(alpha);
            Update(c, va, c00, c01);
            Update(c + ldc, va, c10, c11);
            Update(c + 2 * ldc, va, c20, c21);
            Update(c + 3 * ldc, va, c30, c31);
            Update(c + 4 * ldc, va, c40, c41);
            Update(c + 5 * ldc, va, c50, c51);
            return;
        }
        float* t = stackalloc float[MR * 16];
        c00.Store(t); c01.Store(t + 8); c10.Store(t + 16); c11.Store(t + 24);
        c20.Store(t + 32); c21.Store(t + 40); c30.Store(t + 48); c31.Store(t + 56);
        c40.Store(t + 64); c41.Store(t + 72); c50.Store(t + 80); c51.Store(t + 88);
        AddEdgeTile(t, 16, c, ldc, alpha, mr, nr);
    }

    private static void Avx512x6x32(int kc, float* a, float* b, float* c, int ldc, float alpha, int mr, int nr)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += MR, b += 32)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var ar = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(ar, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(ar, b1, c01);
            ar = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(ar, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(ar, b1, c11);
            ar = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(ar, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(ar, b1, c21);
            ar = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(ar, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(ar, b1, c31);
            ar = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(ar, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(ar, b1, c41);
            ar = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(ar, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(ar, b1, c51);
        }

        if (mr == MR && nr == 32)
        {
            var va = Vector512.Create(alpha);
            Update(c, va, c00, c01);
            Update(c + ldc, va, c10, c11);
            Update(c + 2 * ldc, va, c20, c21);
            Update(c + 3 * ldc, va, c30, c31);
            Update(c + 4 * ldc, va, c40, c41);
            Update(c + 5 * ldc, va, c50, c51);
            return;
        }
        float* t = stackalloc float[MR * 32];
        c00.Store(t); c01.Store(t + 16); c10.Store(t + 32); c11.Store(t + 48);
        c20.Store(t + 64); c21.Store(t + 80); c30.Store(t + 96); c31.Store(t + 112);
        c40.Store(t + 128); c41.Store(t + 144); c50.Store(t + 160); c51.Store(t + 176);
        AddEdgeTile(t, 32, c, ldc, alpha, mr, nr);
    }

    /// <summary>The same contract in plain C#, for CPUs without AVX2+FMA (and as a readable statement of it).</summary>
    private static void Scalar6x16(int kc, float* a, float* b, float* c, int ldc, float alpha, int mr, int nr)
    {
        float* t = stackalloc float[MR * 16];
        new Span<float>(t, MR * 16).Clear();
        for (int p = 0; p < kc; p++, a += MR, b += 16)
        {
            for (int r = 0; r < MR; r++)
            {
                float ar = a[r];
                float* row = t + r * 16;
                for (int j = 0; j < 16; j++) row[j] += ar * b[j];
            }
        }
        AddEdgeTile(t, 16, c, ldc, alpha, mr, nr);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector256<float> alpha, Vector256<float> lo, Vector256<float> hi)
    {
        Avx.Store(c, Fma.MultiplyAdd(alpha, lo, Avx.LoadVector256(c)));
        Avx.Store(c + 8, Fma.MultiplyAdd(alpha, hi, Avx.LoadVector256(c + 8)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector512<float> alpha, Vector512<float> lo, Vector512<float> hi)
    {
        Avx512F.Store(c, Avx512F.FusedMultiplyAdd(alpha, lo, Avx512F.LoadVector512(c)));
        Avx512F.Store(c + 16, Avx512F.FusedMultiplyAdd(alpha, hi, Avx512F.LoadVector512(c + 16)));
    }

    /// <summary>
    /// C[r, j] = fma(alpha, t[r*nrT + j], C[r, j]) over the valid mr×nr part: the same fused rounding as the
    /// full-tile vector update, so an element gets the same bits whether it falls in a full or an edge tile (and
    /// the tiling, which follows the thread count, does not change results).
    /// </summary>
    private static void AddEdgeTile(float* t, int nrT, float* c, int ldc, float alpha, int mr, int nr)
    {
        for (int r = 0; r < mr; r++)
            for (int j = 0; j < nr; j++)
                c[r * ldc + j] = MathF.FusedMultiplyAdd(alpha, t[r * nrT + j], c[r * ldc + j]);
    }
}
