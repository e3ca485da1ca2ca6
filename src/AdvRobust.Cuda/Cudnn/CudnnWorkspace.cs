namespace AdvRobust.Cuda;

/// <summary>
/// The one workspace buffer every cuDNN call of a backend shares: grow-only, so steady-state training allocates
/// nothing. Growing frees the old buffer in stream order (after the work already queued that uses it) and takes a new
/// one from the stream-ordered pool. All users run on the backend's single stream, so sharing is race-free.
/// </summary>
internal sealed class CudnnWorkspace : IDisposable
{
    private readonly CudaContext _context;
    private DeviceMemoryHandle? _buffer;

    public CudnnWorkspace(CudaContext context) => _context = context;

    /// <summary>Bytes currently held (0 before the first use).</summary>
    public long Bytes => _buffer?.Bytes ?? 0;

    /// <summary>A device pointer to at least <paramref name="bytes"/> bytes (0 when none are needed).</summary>
    public ulong Ensure(long bytes)
    {
        if (bytes <= 0) return 0;
        if (_buffer is null || _buffer.Bytes < bytes)
        {
            _buffer?.Dispose();
            _buffer = null;
            // Round up to 1 MiB so a sequence of slightly growing requests does not reallocate each time.
            _buffer = _context.Allocate((bytes + (1L << 20) - 1) & ~((1L << 20) - 1));
        }
        return _buffer.Pointer;
    }

    public void Dispose()
    {
        _buffer?.Dispose();
        _buffer = null;
    }
}
