using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AdvRobust.Cpu;

/// <summary>
/// The 2×2, stride-2, unpadded max-pool (CpuBackend.Pool.cs) on 8 windows at a time, for the leading multiple of 8
/// windows of an output row; the caller's scalar loop does the rest. Same rule as the scalar
/// <c>ArgMax2x2</c>: the window is visited (0,0), (0,1), (1,0), (1,1) and a later value wins only if strictly larger,
/// or a NaN over a number, so the values (−0 against +0 included) and the routed gradients are bitwise the scalar ones.
/// Layout: input rows 2i and 2i+1 are split into even and odd columns (the left and right pixels of 8 windows).
/// </summary>
internal static class Max2x2Vector
{
    public static bool IsSupported => Avx2.IsSupported;

    /// <summary>y[j] for the first multiple of 8 outputs of row i; returns how many it wrote.</summary>
    public static int ForwardRow(ReadOnlySpan<float> xs, int w, int i, Span<float> y)
    {
        ref float top = ref Unsafe.Add(ref MemoryMarshal.GetReference(xs), 2 * i * w);
        ref float bottom = ref Unsafe.Add(ref top, w);
        ref float dst = ref MemoryMarshal.GetReference(y);
        int j = 0;
        for (; j + 8 <= y.Length; j += 8)
        {
            var (a, b) = Split(ref Unsafe.Add(ref top, 2 * j));
            var (c, d) = Split(ref Unsafe.Add(ref bottom, 2 * j));
            var best = a;
            Pick(ref best, b);
            Pick(ref best, c);
            Pick(ref best, d);
            best.StoreUnsafe(ref dst, (nuint)j);
        }
        return j;
    }

    /// <summary>dx of the windows of the first multiple of 8 outputs of row i (all four pixels each); returns how many
    /// outputs it covered.</summary>
    public static int BackwardRow(ReadOnlySpan<float> xs, int w, int i, ReadOnlySpan<float> dy, Span<float> dx)
    {
        ref float top = ref Unsafe.Add(ref MemoryMarshal.GetReference(xs), 2 * i * w);
        ref float bottom = ref Unsafe.Add(ref top, w);
        ref float dxTop = ref Unsafe.Add(ref MemoryMarshal.GetReference(dx), 2 * i * w);
        ref float dxBottom = ref Unsafe.Add(ref dxTop, w);
        ref float g = ref MemoryMarshal.GetReference(dy);
        int j = 0;
        for (; j + 8 <= dy.Length; j += 8)
        {
            var (a, b) = Split(ref Unsafe.Add(ref top, 2 * j));
            var (c, d) = Split(ref Unsafe.Add(ref bottom, 2 * j));
            var best = a;
            var takeB = Pick(ref best, b);
            var takeC = Pick(ref best, c);
            var takeD = Pick(ref best, d);
            // The winner is the last pixel that took over: d if takeD, else c if takeC, else b if takeB, else a.
            var isD = takeD;
            var isC = takeC & ~isD;
            var isB = takeB & ~takeC & ~isD;
            var isA = ~(takeB | takeC | takeD);
            var grad = Vector256<float>.Zero + Vector256.LoadUnsafe(ref g, (nuint)j);
            Merge(grad & isA, grad & isB, ref Unsafe.Add(ref dxTop, 2 * j));
            Merge(grad & isC, grad & isD, ref Unsafe.Add(ref dxBottom, 2 * j));
        }
        return j;
    }

    /// <summary>best = v where v wins (strictly larger, or NaN over a number); returns where it did.</summary>
    private static Vector256<float> Pick(ref Vector256<float> best, Vector256<float> v)
    {
        var vNaN = ~Vector256.Equals(v, v);
        var bestNaN = ~Vector256.Equals(best, best);
        var take = Vector256.GreaterThan(v, best) | (vNaN & ~bestNaN);
        best = Vector256.ConditionalSelect(take, v, best);
        return take;
    }

    /// <summary>16 consecutive floats split into (even, odd) positions, each in order.</summary>
    private static (Vector256<float> Even, Vector256<float> Odd) Split(ref float src)
    {
        var lo = Vector256.LoadUnsafe(ref src);
        var hi = Vector256.LoadUnsafe(ref src, 8);
        // Within 128-bit lanes: [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6]; the 64-bit permute restores the order.
        var even = Avx.Shuffle(lo, hi, 0b10_00_10_00);
        var odd = Avx.Shuffle(lo, hi, 0b11_01_11_01);
        return (Avx2.Permute4x64(even.AsDouble(), 0b11_01_10_00).AsSingle(),
            Avx2.Permute4x64(odd.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    /// <summary>Interleaves (even, odd) back into 16 consecutive floats at dst.</summary>
    private static void Merge(Vector256<float> even, Vector256<float> odd, ref float dst)
    {
        var lo = Avx.UnpackLow(even, odd);   // [e0 o0 e1 o1 | e4 o4 e5 o5]
        var hi = Avx.UnpackHigh(even, odd);  // [e2 o2 e3 o3 | e6 o6 e7 o7]
        Avx.Permute2x128(lo, hi, 0x20).StoreUnsafe(ref dst);
        Avx.Permute2x128(lo, hi, 0x31).StoreUnsafe(ref dst, 8);
    }
}
