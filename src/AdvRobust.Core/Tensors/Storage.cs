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

    /// <summary>
    /// Counts writes through the paths that can change a model's state: the <see cref="Ops"/> façade's elementwise
    /// writes, copies, optimizer steps and running-statistics updates, and the backends' CopyIn (checkpoint and
    /// resume loads). Caches derived from parameters or buffers (eval-mode batch norm's scale and shift) compare it to
    /// decide whether they are stale. Kernels that write through raw pointers outside the façade do not bump it.
    /// </summary>
    public long Version { get; private set; }

    /// <summary>Records a write (see <see cref="Version"/>).</summary>
    public void MarkWritten() => Version++;

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Free();
        GC.SuppressFinalize(this);
    }

    protected abstract void Free();
}
