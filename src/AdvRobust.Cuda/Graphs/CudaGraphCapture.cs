using AdvRobust.Core.Graphs;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// The CUDA side of <see cref="StepGraph"/>: captures a step on the context's stream (cuStreamBeginCapture_v2 in
/// thread-local mode … cuStreamEndCapture), instantiates the graph (cuGraphInstantiateWithFlags) and launches it for
/// the capturing call; replays are one cuGraphLaunch each. A capture is refused, with the reason, when the step throws
/// (including the engine's own refusals: a synchronization or host copy inside the step), when the driver invalidates
/// it (something synchronized, or an unsafe call such as cuMemAlloc_v2), or when <see cref="CaptureState"/> finds
/// memory the graph cannot own. Graphs are on unless ADVROBUST_CUDA_GRAPHS=0 or <see cref="Enabled"/> is set false.
/// </summary>
public sealed class CudaGraphCapture : IGraphCapture
{
    private readonly CudaContext _context;

    public CudaGraphCapture(CudaContext context)
    {
        _context = context;
        Enabled = Environment.GetEnvironmentVariable("ADVROBUST_CUDA_GRAPHS") is not "0";
    }

    /// <summary>Whether steps may be captured; starts from ADVROBUST_CUDA_GRAPHS (anything but "0" is on).</summary>
    public bool Enabled { get; set; }

    public bool IsCapturing => _context.IsCapturing;

    public GraphCaptureResult Capture(Action step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var stream = _context.Stream;
        if (stream.Capture is not null) throw new InvalidOperationException("a capture is already running on this stream");
        _context.MakeCurrent();
        var state = new CaptureState();
        CudaException.Check(CudaDriver.cuStreamBeginCapture_v2(stream.DangerousGetHandle(),
            CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
        stream.Capture = state;
        Exception? thrown = null;
        try
        {
            step();
        }
        catch (Exception e)
        {
            thrown = e;
        }
        stream.Capture = null;
        var ended = CudaDriver.cuStreamEndCapture(stream.DangerousGetHandle(), out nint raw);
        using var graph = raw != 0 ? CudaGraphHandle.FromRaw(_context.Handle, raw) : null;
        try
        {
            if (thrown is not null) return new(null, "the step failed under capture: " + thrown.Message, false);
            if (ended != CUresult.CUDA_SUCCESS || graph is null)
                return new(null, new CudaException(ended, "cuStreamEndCapture").Message, false);
            var exec = CudaGraphExecHandle.Instantiate(_context.Handle, graph);
            exec.Launch(stream);
            if (state.Refusal() is { } why)
            {
                exec.Dispose();  // its work for this call is done; it is just never replayed
                return new(null, why, true);
            }
            return new(new CapturedGraph(exec, stream), null, true);
        }
        finally
        {
            FreeDeferred(state);
        }
    }

    /// <summary>Frees, in stream order after the capturing call's work, the memory the step released but did not own.</summary>
    private void FreeDeferred(CaptureState state)
    {
        foreach (ulong p in state.TakeDeferredFrees())
            CudaException.Check(CudaDriver.cuMemFreeAsync(p, _context.Stream.DangerousGetHandle()));
    }

    private sealed class CapturedGraph(CudaGraphExecHandle exec, CudaStreamHandle stream) : ICapturedStep
    {
        public void Replay() => exec.Launch(stream);

        public void Dispose() => exec.Dispose();
    }
}
