using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

/// <summary>
/// The one loop behind every unary op: Vector256 over the body when the op is vectorized, scalar over the tail,
/// chunked across cores by <see cref="ElementwiseChunks"/>. x and y (or dx) may be the same tensor.
/// </summary>
internal static class UnaryDriver<TOp> where TOp : struct, IUnaryOp
{
    public static void Forward(Tensor x, Tensor y) =>
        ElementwiseChunks.For(x.Length, (s, n) => Forward(x.F().Slice(s, n), y.F().Slice(s, n)));

    /// <summary>dx = dy * op'(x).</summary>
    public static void Backward(Tensor x, Tensor dy, Tensor dx) =>
        ElementwiseChunks.For(x.Length,
            (s, n) => Backward(x.F().Slice(s, n), dy.F().Slice(s, n), dx.F().Slice(s, n)));

    public static void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (TOp.Vectorized && Vector256.IsHardwareAccelerated)
        {
            ref float xs = ref MemoryMarshal.GetReference(x);
            ref float ys = ref MemoryMarshal.GetReference(y);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                TOp.Forward(Vector256.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        }
        for (; i < x.Length; i++) y[i] = TOp.Forward(x[i]);
    }

    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int i = 0;
        if (TOp.Vectorized && Vector256.IsHardwareAccelerated)
        {
            ref float xs = ref MemoryMarshal.GetReference(x);
            ref float dys = ref MemoryMarshal.GetReference(dy);
            ref float dxs = ref MemoryMarshal.GetReference(dx);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var g = Vector256.LoadUnsafe(ref dys, (nuint)i) * TOp.Backward(Vector256.LoadUnsafe(ref xs, (nuint)i));
                g.StoreUnsafe(ref dxs, (nuint)i);
            }
        }
        for (; i < x.Length; i++) dx[i] = dy[i] * TOp.Backward(x[i]);
    }
}
