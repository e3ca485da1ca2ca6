namespace AdvRobust.Core.Graphs;

/// <summary>
/// Runs a step (an attack iteration, a training step) as one recorded graph per shape key: the first call with a key
/// runs eagerly (it warms the allocator's pool, cuDNN's algorithm choices and cuBLAS's workspace, none of which may
/// happen under capture), the second captures the step and launches the graph, later calls replay it. On a backend
/// without graphs, or with graphs switched off, every call runs eagerly. When a capture is refused, the reason is
/// kept (<see cref="FallbackReason"/>, reported once through <see cref="Report"/>) and that key runs eagerly from then on.
/// <para>
/// What a replayed step may do: only device work on buffers that live across calls. A replay does not run the host
/// code, so every value that changes between calls (inputs, step sizes, iteration counters, RNG offsets) must be read
/// from device memory, not baked in as a kernel argument; inputs are written into the same buffers before each call
/// (their contents may change, their addresses may not); tensors created inside the step are disposed inside it, and
/// results are written into buffers allocated before it. No synchronization, no host↔device copy inside the step.
/// </para>
/// <para>A StepGraph run while an outer step is being captured runs eagerly: its work is recorded into the outer graph
/// (a PGD attack's steps inside a captured training step).</para>
/// </summary>
public sealed class StepGraph : IDisposable
{
    private readonly IGraphCapture? _capture;
    private readonly Dictionary<object, Entry> _entries = new();

    /// <param name="backend">The backend the step runs on.</param>
    /// <param name="name">Names the step in the fallback report, e.g. "PGD step".</param>
    public StepGraph(IBackend backend, string name = "step")
    {
        _capture = backend.GraphCapture;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Whether calls may capture and replay (the backend has graphs and they are on).</summary>
    public bool Enabled => _capture is { Enabled: true };

    /// <summary>The first reason a capture was refused, or null.</summary>
    public string? FallbackReason { get; private set; }

    /// <summary>Where the first refusal is reported (once per StepGraph); standard error by default.</summary>
    public Action<string> Report { get; set; } = message => Console.Error.WriteLine(message);

    /// <summary>Called when a capture was refused and the step is about to run eagerly instead: the refused attempt
    /// ran the step's host code without its device work, so host state derived from that work (a cache's version
    /// stamp) must be invalidated here.</summary>
    public Action? Refused { get; set; }

    public int EagerRuns { get; private set; }
    public int Captures { get; private set; }
    public int Replays { get; private set; }

    /// <summary>Runs the step for a single shape.</summary>
    public void Run(Action step) => Run(string.Empty, step);

    /// <summary>Runs the step for the shape <paramref name="key"/> (e.g. the batch size): eagerly, captured, or replayed.</summary>
    public void Run(object key, Action step)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(step);
        if (!Enabled || _capture!.IsCapturing)
        {
            Eager(step);
            return;
        }
        if (!_entries.TryGetValue(key, out var entry)) _entries[key] = entry = new Entry();
        entry.Calls++;
        if (entry.Graph is not null)
        {
            entry.Graph.Replay();
            Replays++;
        }
        else if (entry.Calls == 1 || entry.Refused)
            Eager(step);
        else
            Capture(key, entry, step);
    }

    /// <summary>Drops every recorded graph (call it when a step's buffers move, e.g. reallocated parameters): the next
    /// call per key runs eagerly again, then captures anew.</summary>
    public void Reset()
    {
        foreach (var e in _entries.Values) e.Graph?.Dispose();
        _entries.Clear();
    }

    public void Dispose() => Reset();

    private void Eager(Action step)
    {
        step();
        EagerRuns++;
    }

    private void Capture(object key, Entry entry, Action step)
    {
        var result = _capture!.Capture(step);
        if (result.Graph is not null)
        {
            entry.Graph = result.Graph;
            Captures++;
            return;
        }
        entry.Refused = true;
        if (FallbackReason is null)
        {
            FallbackReason = result.Refusal ?? "the capture was refused";
            Report($"{Name}: no graph for shape '{key}', running eagerly: {FallbackReason}");
        }
        if (result.WorkDone) EagerRuns++;
        else
        {
            Refused?.Invoke();
            Eager(step);
        }
    }

    private sealed class Entry
    {
        public int Calls;
        public bool Refused;
        public ICapturedStep? Graph;
    }
}
