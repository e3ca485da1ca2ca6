using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AdvRobust.Cpu;

/// <summary>
/// The 2×2, stride-2, unpadded max-pool (CpuBackend.Pool.cs) on 8 windows at a time (4 on rows of 4 to 7 windows).
/// A row whose length is not a multiple of the vector ends with one vector that overlaps the previous one (those
/// windows are computed twice, with the same result); rows under 4 windows are left to the caller's scalar loop,
/// as is any window past the returned count. Same rule as the scalar
/// <c>ArgMax2x2</c>: the window is visited (0,0), (0,1), (1,0), (1,1) and a later value wins only if strictly larger,
/// or a NaN over a number, so the values (−0 against +0 included) and the routed gradients are bitwise the scalar ones.
/// Layout: input rows 2i and 2i+1 are split into even and odd columns (the left and right pixels of 8 windows).
/// </summary>
internal static class Max2x2Vector
{
    public static bool IsSupported => Avx2.IsSupported;

    /// <summary>y[j] of row i; returns how many outputs it wrote (all of them, or none under 4).</summary>
    public static int ForwardRow(ReadOnlySpan<float> xs, int w, int i, Span<float> y)
    {
        ref float top = ref Unsafe.Add(ref MemoryMarshal.GetReference(xs), 2 * i * w);
        ref float bottom = ref Unsafe.Add(ref top, w);
        ref float dst = ref MemoryMarshal.GetReference(y);
        if (y.Length < 8) return y.Length < 4 ? 0 : ForwardRow4(ref top, ref bottom, ref dst, y.Length);
        for (int j = 0; j < y.Length; j = Next(j, 8, y.Length))
        {
            var (a, b) = Split(ref Unsafe.Add(ref top, 2 * j));
            var (c, d) = Split(ref Unsafe.Add(ref bottom, 2 * j));
            var best = a;
            Pick(ref best, b);
            Pick(ref best, c);
            Pick(ref best, d);
            best.StoreUnsafe(ref dst, (nuint)j);
        }
        return y.Length;
    }

    private static int ForwardRow4(ref float top, ref float bottom, ref float dst, int length)
    {
        for (int j = 0; j < length; j = Next(j, 4, length))
        {
            var (a, b) = Split4(ref Unsafe.Add(ref top, 2 * j));
            var (c, d) = Split4(ref Unsafe.Add(ref bottom, 2 * j));
            var best = a;
            Pick(ref best, b);
            Pick(ref best, c);
            Pick(ref best, d);
            best.StoreUnsafe(ref dst, (nuint)j);
        }
        return length;
    }

    /// <summary>dx of the windows of row i (all four pixels each); returns how many outputs it covered (all of them,
    /// or none under 4).</summary>
    public static int BackwardRow(ReadOnlySpan<float> xs, int w, int i, ReadOnlySpan<float> dy, Span<float> dx)
    {
        ref float top = ref Unsafe.Add(ref MemoryMarshal.GetReference(xs), 2 * i * w);
        ref float bottom = ref Unsafe.Add(ref top, w);
        ref float dxTop = ref Unsafe.Add(ref MemoryMarshal.GetReference(dx), 2 * i * w);
        ref float dxBottom = ref Unsafe.Add(ref dxTop, w);
        ref float g = ref MemoryMarshal.GetReference(dy);
        if (dy.Length < 8)
            return dy.Length < 4 ? 0 : BackwardRow4(ref top, ref bottom, ref g, ref dxTop, ref dxBottom, dy.Length);
        for (int j = 0; j < dy.Length; j = Next(j, 8, dy.Length))
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
        return dy.Length;
    }

    private static int BackwardRow4(ref float top, ref float bottom, ref float g, ref float dxTop, ref float dxBottom,
        int length)
    {
        for (int j = 0; j < length; j = Next(j, 4, length))
        {
            var (a, b) = Split4(ref Unsafe.Add(ref top, 2 * j));
            var (c, d) = Split4(ref Unsafe.Add(ref bottom, 2 * j));
            var best = a;
            var takeB = Pick(ref best, b);
            var takeC = Pick(ref best, c);
            var takeD = Pick(ref best, d);
            var isC = takeC & ~takeD;
            var isB = takeB & ~takeC & ~takeD;
            var isA = ~(takeB | takeC | takeD);
            var grad = Vector128<float>.Zero + Vector128.LoadUnsafe(ref g, (nuint)j);
            Merge4(grad & isA, grad & isB, ref Unsafe.Add(ref dxTop, 2 * j));
            Merge4(grad & isC, grad & takeD, ref Unsafe.Add(ref dxBottom, 2 * j));
        }
        return length;
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

    /// <summary>The next vector's first window: width on, but the last vector ends at the row's end (overlapping).</summary>
    private static int Next(int j, int width, int length) => j + width >= length ? length : Math.Min(j + width, length - width);

    /// <summary><see cref="Pick(ref Vector256{float}, Vector256{float})"/> on 4 lanes.</summary>
    private static Vector128<float> Pick(ref Vector128<float> best, Vector128<float> v)
    {
        var vNaN = ~Vector128.Equals(v, v);
        var bestNaN = ~Vector128.Equals(best, best);
        var take = Vector128.GreaterThan(v, best) | (vNaN & ~bestNaN);
        best = Vector128.ConditionalSelect(take, v, best);
        return take;
    }

    /// <summary>8 consecutive floats split into (even, odd) positions.</summary>
    private static (Vector128<float> Even, Vector128<float> Odd) Split4(ref float src)
    {
        var lo = Vector128.LoadUnsafe(ref src);
        var hi = Vector128.LoadUnsafe(ref src, 4);
        return (Sse.Shuffle(lo, hi, 0b10_00_10_00), Sse.Shuffle(lo, hi, 0b11_01_11_01));
    }

    /// <summary>Interleaves (even, odd) back into 8 consecutive floats at dst.</summary>
    private static void Merge4(Vector128<float> even, Vector128<float> odd, ref float dst)
    {
        Sse.UnpackLow(even, odd).StoreUnsafe(ref dst);
        Sse.UnpackHigh(even, odd).StoreUnsafe(ref dst, 4);
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
