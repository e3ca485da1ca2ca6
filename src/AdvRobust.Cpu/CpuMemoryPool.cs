namespace AdvRobust.Cpu;

/// <summary>
/// A cache of freed CPU buffers, by exact size. A training or attack step allocates the same few dozen tensors every
/// time (a batch of 256 small-CNN activations is 25 MB per layer); fresh arrays of that size go to the large-object
/// heap, are zeroed page by page and trigger full GCs, which cost more than the ops themselves on two cores. A step
/// that frees its tensors (the tape does, deterministically) hands them to the next step instead.
/// A reused buffer is cleared before it is handed out, so a new storage always reads as zeros, exactly like a fresh
/// array: no op can come to depend on stale data. At most <see cref="MaxCachedBytes"/> are kept; beyond that a freed
/// buffer is left to the GC.
/// </summary>
internal sealed class CpuMemoryPool
{
    public const long MaxCachedBytes = 1L << 30;

    /// <summary>Buffers below this size are not worth caching: the small-object heap handles them well.</summary>
    private const int MinPooledBytes = 64 << 10;

    private readonly Dictionary<int, Stack<byte[]>> _free = [];
    private readonly Lock _lock = new();
    private long _cachedBytes;

    public long CachedBytes
    {
        get { lock (_lock) return _cachedBytes; }
    }

    public byte[] Rent(int bytes)
    {
        if (bytes >= MinPooledBytes)
        {
            byte[]? reused = null;
            lock (_lock)
            {
                if (_free.TryGetValue(bytes, out var stack) && stack.Count > 0)
                {
                    reused = stack.Pop();
                    _cachedBytes -= bytes;
                }
            }
            if (reused is not null)
            {
                Array.Clear(reused);
                return reused;
            }
        }
        return new byte[bytes];
    }

    public void Return(byte[] buffer)
    {
        if (buffer.Length < MinPooledBytes) return;
        lock (_lock)
        {
            if (_cachedBytes + buffer.Length > MaxCachedBytes) return;
            if (!_free.TryGetValue(buffer.Length, out var stack)) _free[buffer.Length] = stack = new Stack<byte[]>();
            stack.Push(buffer);
            _cachedBytes += buffer.Length;
        }
    }

    /// <summary>Drops every cached buffer (for a caller that wants the memory back, e.g. between experiments).</summary>
    public void Trim()
    {
        lock (_lock)
        {
            _free.Clear();
            _cachedBytes = 0;
        }
    }
}
