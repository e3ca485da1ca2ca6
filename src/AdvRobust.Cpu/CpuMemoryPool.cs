namespace AdvRobust.Cpu;

/// <summary>
/// A cache of freed CPU buffers, by exact size. A training or attack step allocates the same few dozen tensors every
/// time (a batch of 256 small-CNN activations is 25 MB per layer); fresh arrays of that size go to the large-object
/// heap, are zeroed page by page and trigger full GCs, which cost more than the ops themselves on two cores. A step
/// that frees its tensors (the tape does, deterministically) hands them to the next step instead.
/// A reused buffer is handed out as it is, not cleared: <c>Tensor.Empty</c> is uninitialized memory on every backend
/// (cudaMalloc'd memory is too), and clearing 130 MB per pass cost a tenth of a small-CNN attack step. So that no CPU
/// op can quietly come to depend on zeros (which the GPU would not give it), <see cref="Poison"/> fills every buffer
/// it hands out, fresh or reused, with all-ones bytes: a NaN in every float, −1 in every int. The test suite runs with
/// it on. At most <see cref="MaxCachedBytes"/> are kept; beyond that a freed buffer is left to the GC.
/// </summary>
internal sealed class CpuMemoryPool
{
    public const long DefaultMaxCachedBytes = 1L << 30;

    public CpuMemoryPool(long maxCachedBytes = DefaultMaxCachedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxCachedBytes);
        MaxCachedBytes = maxCachedBytes;
    }

    /// <summary>The most bytes of freed buffers kept for reuse.</summary>
    public long MaxCachedBytes { get; }

    /// <summary>Buffers below this size are not worth caching: the small-object heap handles them well.</summary>
    private const int MinPooledBytes = 64 << 10;

    private readonly Dictionary<int, Stack<byte[]>> _free = [];
    private readonly Lock _lock = new();
    private long _cachedBytes;

    /// <summary>Fill every buffer handed out with 0xFF bytes (NaN floats), to catch reads of uninitialized memory.</summary>
    public static bool Poison { get; set; }

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
            if (reused is not null) return Poisoned(reused);
        }
        return Poisoned(new byte[bytes]);
    }

    private static byte[] Poisoned(byte[] buffer)
    {
        if (Poison) Array.Fill(buffer, (byte)0xFF);
        return buffer;
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
