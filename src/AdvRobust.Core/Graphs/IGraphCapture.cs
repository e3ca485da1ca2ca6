namespace AdvRobust.Core.Graphs;

/// <summary>
/// A backend's way to record a step's device work once and replay it (a CUDA graph). <see cref="StepGraph"/> is the
/// only caller; backends without graphs return null from <see cref="IBackend.GraphCapture"/>.
/// </summary>
public interface IGraphCapture
{
    /// <summary>False when graphs are switched off (ADVROBUST_CUDA_GRAPHS=0 or the backend's setting).</summary>
    bool Enabled { get; }

    /// <summary>True while a capture runs on this thread's stream: a step inside a captured step (an attack's steps
    /// inside a training step) runs eagerly, so that its work becomes part of the outer graph.</summary>
    bool IsCapturing { get; }

    /// <summary>
    /// Runs <paramref name="step"/>'s host code once while its device work is recorded instead of run. On success the
    /// result holds the replayable graph and this call's work has been launched (<see cref="GraphCaptureResult.WorkDone"/>).
    /// When the capture is refused (the step synchronized, copied to the host, freed memory it did not allocate, ...)
    /// the result carries the reason, and WorkDone tells whether the step must still be run eagerly for this call.
    /// </summary>
    GraphCaptureResult Capture(Action step);
}

/// <summary>A recorded step: <see cref="Replay"/> enqueues all of its device work again, with the same buffers.</summary>
public interface ICapturedStep : IDisposable
{
    void Replay();
}

/// <summary>What <see cref="IGraphCapture.Capture"/> produced: a graph, or the reason there is none.</summary>
public readonly record struct GraphCaptureResult(ICapturedStep? Graph, string? Refusal, bool WorkDone);
