namespace AdvRobust.Core.Tensors;

/// <summary>
/// A flat buffer owned by one backend (managed memory for the CPU, device memory for CUDA).
/// Storage is freed deterministically by <see cref="Dispose"/>, never left to the GC for device memory.
/// </summary>
public abstract class Storage : IDisposable
{
    protected Storage(IBackend backend, DType dtype, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Backend = backend;
        DType = dtype;
        Length = length;
    }

    public IBackend Backend { get; }
    public DType DType { get; }

    /// <summary>Number of elements (not bytes).</summary>
    public long Length { get; }

    public long Bytes => Length * DType.SizeInBytes();
    public bool IsDisposed { get; private set; }

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Free();
        GC.SuppressFinalize(this);
    }

    protected abstract void Free();
}
