namespace AdvRobust.Cuda;

/// <summary>
/// A second stream beside a context's compute stream (<see cref="CudaContext.Stream"/>), for work that should overlap
/// the compute stream's (NCCL's gradient all-reduces while backward goes on). <see cref="Fork"/> orders the side
/// stream's next work after everything queued on the compute stream so far; <see cref="Join"/> orders the compute
/// stream's next work after everything queued on the side stream. Each is one event record and one cuStreamWaitEvent
/// on the device; the host never waits. One event per direction is reused: a wait takes the event's state when it is
/// issued, so recording it again later does not move an earlier wait.
/// </summary>
public sealed class SideStream : IDisposable
{
    private readonly CudaContext _context;
    private readonly CudaEventHandle _forked, _joined;

    public SideStream(CudaContext context)
    {
        _context = context;
        Stream = CudaStreamHandle.Create(context.Handle);
        _forked = CudaEventHandle.Create(context.Handle);
        _joined = CudaEventHandle.Create(context.Handle);
    }

    public CudaStreamHandle Stream { get; }

    /// <summary>The side stream's next work waits for the compute stream's work queued so far.</summary>
    public void Fork()
    {
        _forked.Record(_context.Stream);
        Stream.Wait(_forked);
    }

    /// <summary>The compute stream's next work waits for the side stream's work queued so far.</summary>
    public void Join()
    {
        _joined.Record(Stream);
        _context.Stream.Wait(_joined);
    }

    public void Dispose()
    {
        _forked.Dispose();
        _joined.Dispose();
        Stream.Dispose();
    }
}
