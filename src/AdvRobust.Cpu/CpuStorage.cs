using System.Runtime.InteropServices;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

/// <summary>Managed memory for the CPU backend: one byte array from the backend's <see cref="CpuMemoryPool"/>
/// (uninitialized, like device memory), seen as floats or ints.</summary>
public sealed class CpuStorage : Storage
{
    private readonly CpuMemoryPool _pool;
    private byte[] _bytes;

    internal CpuStorage(IBackend backend, CpuMemoryPool pool, DType dtype, long length) : base(backend, dtype, length)
    {
        if (length * dtype.SizeInBytes() > Array.MaxLength)
            throw new OutOfMemoryException($"a CPU tensor of {length} {dtype} elements exceeds the 2 GiB array limit");
        _pool = pool;
        _bytes = pool.Rent((int)(length * dtype.SizeInBytes()));
    }

    public Span<T> AsSpan<T>() where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return MemoryMarshal.Cast<byte, T>(_bytes.AsSpan());
    }

    protected override void Free()
    {
        _pool.Return(_bytes);
        _bytes = [];
    }
}

internal static class CpuTensorExtensions
{
    /// <summary>The float elements of a CPU tensor.</summary>
    public static Span<float> F(this Tensor t) => ((CpuStorage)t.Storage).AsSpan<float>();

    /// <summary>The int elements of a CPU tensor.</summary>
    public static Span<int> I(this Tensor t) => ((CpuStorage)t.Storage).AsSpan<int>();
}
