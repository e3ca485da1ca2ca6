namespace AdvRobust.Cuda;

/// <summary>
/// What the engine tracks while its stream captures a graph, beyond what the driver checks: device memory allocated
/// inside the step that is still alive (a replay could not give it back to its owner), and frees of memory allocated
/// before the step, which are held back until the capture ends (the graph must not free memory it does not own: a
/// second replay would free it again). Either one refuses the graph, with the reason.
/// </summary>
internal sealed class CaptureState
{
    private readonly List<ulong> _deferredFrees = new();
    private readonly Lock _gate = new();
    private int _outstanding;
    private string? _refusal;

    public CaptureState() => ThreadId = Environment.CurrentManagedThreadId;

    /// <summary>The managed thread that captures; frees on other threads (finalizers) do not refuse the graph.</summary>
    public int ThreadId { get; }

    public void Allocated() => Interlocked.Increment(ref _outstanding);

    public void FreedInside() => Interlocked.Decrement(ref _outstanding);

    /// <summary>A free of memory the step did not allocate: held back; refuses the graph when the step itself did it.</summary>
    public void DeferFree(ulong pointer, long bytes)
    {
        lock (_gate)
        {
            _deferredFrees.Add(pointer);
            if (Environment.CurrentManagedThreadId == ThreadId)
                _refusal ??= $"the step freed {bytes} bytes of device memory allocated before it (a tensor created " +
                             "outside the step and disposed inside it); a replay would use memory no longer the step's";
        }
    }

    /// <summary>Why the captured graph must not be replayed, or null.</summary>
    public string? Refusal()
    {
        lock (_gate)
        {
            if (_refusal is not null) return _refusal;
            int n = Volatile.Read(ref _outstanding);
            return n > 0
                ? $"{n} device allocation(s) made inside the step are still alive at its end (dispose tensors created " +
                  "in the step inside it; write results into buffers allocated before it)"
                : null;
        }
    }

    /// <summary>The held-back frees, handed over once the capture has ended.</summary>
    public List<ulong> TakeDeferredFrees()
    {
        lock (_gate)
        {
            var list = new List<ulong>(_deferredFrees);
            _deferredFrees.Clear();
            return list;
        }
    }
}
