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

    /// <summary>12×32 tile in 24 zmm accumulators: x64 with AVX-512F.</summary>
    Avx512,
}

/// <summary>
/// SGEMM micro-kernels: C[MR×NR tile] += alpha * Ap·Bp over kc steps, where Ap holds kc columns of MR packed rows
/// (Ap[p*MR + r]) and Bp kc rows of NR packed columns (Bp[p*NR + j]), both zero-padded past the matrix edge.
/// The tile of C starts at c with row stride ldc; only its first mr rows and nr columns are written.
/// Per k step the AVX2 kernel loads one row of Bp (2 vectors), broadcasts 6 values of Ap and issues 12 FMAs into
/// 12 accumulators: 15 registers, which fits the 16 ymm of AVX2. The AVX-512 kernel is the same loop on zmm with
/// 12 rows (24 accumulators, 27 of the 32 zmm): twice the FMAs per broadcast B row, and half the passes over each
/// packed B micro-panel, of the 6×32 tile it replaced; on the CI machine AVX-512 ran 1.1-2.7× faster than AVX2
/// (table in Sgemm.cs), so it is picked where supported. Every kernel sums each element of a tile from 0, one fused
/// multiply-add per k step in order, then adds it to C with one fma(alpha, sum, C): the tile shape changes the
/// speed, never the bits.
/// </summary>
internal static unsafe class SgemmKernels
{
    /// <summary>MR, the rows of a packed A micro-panel, of the 6-row kernels (AVX2, scalar).</summary>
    public const int MR = 6;

    /// <summary>MR of the AVX-512 kernel, which has 32 registers for its 24 accumulators.</summary>
    public const int MR512 = 12;

    /// <summary>MR, the height of a packed A micro-panel and of the tile of C.</summary>
    public static int Mr(SgemmKernel kernel) => kernel == SgemmKernel.Avx512 ? MR512 : MR;

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
            case SgemmKernel.Avx512: Avx512x12x32(kc, a, b, c, ldc, alpha, mr, nr); break;
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512x12x32(int kc, float* a, float* b, float* c, int ldc, float alpha, int mr, int nr)
    {
        Vector512<float> c0a = default, c0b = default;
        Vector512<float> c1a = default, c1b = default;
        Vector512<float> c2a = default, c2b = default;
        Vector512<float> c3a = default, c3b = default;
        Vector512<float> c4a = default, c4b = default;
        Vector512<float> c5a = default, c5b = default;
        Vector512<float> c6a = default, c6b = default;
        Vector512<float> c7a = default, c7b = default;
        Vector512<float> c8a = default, c8b = default;
        Vector512<float> c9a = default, c9b = default;
        Vector512<float> c10a = default, c10b = default;
        Vector512<float> c11a = default, c11b = default;
        for (int p = 0; p < kc; p++, a += MR512, b += 32)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            Vector512<float> ar;
            ar = Vector512.Create(a[0]);
            c0a = Avx512F.FusedMultiplyAdd(ar, b0, c0a);
            c0b = Avx512F.FusedMultiplyAdd(ar, b1, c0b);
            ar = Vector512.Create(a[1]);
            c1a = Avx512F.FusedMultiplyAdd(ar, b0, c1a);
            c1b = Avx512F.FusedMultiplyAdd(ar, b1, c1b);
            ar = Vector512.Create(a[2]);
            c2a = Avx512F.FusedMultiplyAdd(ar, b0, c2a);
            c2b = Avx512F.FusedMultiplyAdd(ar, b1, c2b);
            ar = Vector512.Create(a[3]);
            c3a = Avx512F.FusedMultiplyAdd(ar, b0, c3a);
            c3b = Avx512F.FusedMultiplyAdd(ar, b1, c3b);
            ar = Vector512.Create(a[4]);
            c4a = Avx512F.FusedMultiplyAdd(ar, b0, c4a);
            c4b = Avx512F.FusedMultiplyAdd(ar, b1, c4b);
            ar = Vector512.Create(a[5]);
            c5a = Avx512F.FusedMultiplyAdd(ar, b0, c5a);
            c5b = Avx512F.FusedMultiplyAdd(ar, b1, c5b);
            ar = Vector512.Create(a[6]);
            c6a = Avx512F.FusedMultiplyAdd(ar, b0, c6a);
            c6b = Avx512F.FusedMultiplyAdd(ar, b1, c6b);
            ar = Vector512.Create(a[7]);
            c7a = Avx512F.FusedMultiplyAdd(ar, b0, c7a);
            c7b = Avx512F.FusedMultiplyAdd(ar, b1, c7b);
            ar = Vector512.Create(a[8]);
            c8a = Avx512F.FusedMultiplyAdd(ar, b0, c8a);
            c8b = Avx512F.FusedMultiplyAdd(ar, b1, c8b);
            ar = Vector512.Create(a[9]);
            c9a = Avx512F.FusedMultiplyAdd(ar, b0, c9a);
            c9b = Avx512F.FusedMultiplyAdd(ar, b1, c9b);
            ar = Vector512.Create(a[10]);
            c10a = Avx512F.FusedMultiplyAdd(ar, b0, c10a);
            c10b = Avx512F.FusedMultiplyAdd(ar, b1, c10b);
            ar = Vector512.Create(a[11]);
            c11a = Avx512F.FusedMultiplyAdd(ar, b0, c11a);
            c11b = Avx512F.FusedMultiplyAdd(ar, b1, c11b);
        }

        if (mr == MR512 && nr == 32)
        {
            var va = Vector512.Create(alpha);
            Update(c + 0 * ldc, va, c0a, c0b);
            Update(c + 1 * ldc, va, c1a, c1b);
            Update(c + 2 * ldc, va, c2a, c2b);
            Update(c + 3 * ldc, va, c3a, c3b);
            Update(c + 4 * ldc, va, c4a, c4b);
            Update(c + 5 * ldc, va, c5a, c5b);
            Update(c + 6 * ldc, va, c6a, c6b);
            Update(c + 7 * ldc, va, c7a, c7b);
            Update(c + 8 * ldc, va, c8a, c8b);
            Update(c + 9 * ldc, va, c9a, c9b);
            Update(c + 10 * ldc, va, c10a, c10b);
            Update(c + 11 * ldc, va, c11a, c11b);
            return;
        }
        float* t = stackalloc float[MR512 * 32];
        c0a.Store(t + 0); c0b.Store(t + 16);
        c1a.Store(t + 32); c1b.Store(t + 48);
        c2a.Store(t + 64); c2b.Store(t + 80);
        c3a.Store(t + 96); c3b.Store(t + 112);
        c4a.Store(t + 128); c4b.Store(t + 144);
        c5a.Store(t + 160); c5b.Store(t + 176);
        c6a.Store(t + 192); c6b.Store(t + 208);
        c7a.Store(t + 224); c7b.Store(t + 240);
        c8a.Store(t + 256); c8b.Store(t + 272);
        c9a.Store(t + 288); c9b.Store(t + 304);
        c10a.Store(t + 320); c10b.Store(t + 336);
        c11a.Store(t + 352); c11b.Store(t + 368);
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
