using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

/// <summary>
/// The one loop behind every binary op: Vector256 over the body when the op is vectorized, scalar over the tail,
/// chunked across cores by <see cref="ElementwiseChunks"/>. y may be the same tensor as a or b.
/// </summary>
internal static class BinaryDriver<TOp> where TOp : struct, IBinaryOp
{
    public static void Forward(Tensor a, Tensor b, Tensor y) =>
        ElementwiseChunks.For(a.Length,
            (s, n) => Forward(a.F().Slice(s, n), b.F().Slice(s, n), y.F().Slice(s, n)));

    public static void Forward(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        int i = 0;
        if (TOp.Vectorized && Vector256.IsHardwareAccelerated)
        {
            ref float az = ref MemoryMarshal.GetReference(a);
            ref float bz = ref MemoryMarshal.GetReference(b);
            ref float yz = ref MemoryMarshal.GetReference(y);
            for (; i <= a.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var r = TOp.Forward(Vector256.LoadUnsafe(ref az, (nuint)i), Vector256.LoadUnsafe(ref bz, (nuint)i));
                r.StoreUnsafe(ref yz, (nuint)i);
            }
        }
        for (; i < a.Length; i++) y[i] = TOp.Forward(a[i], b[i]);
    }
}
