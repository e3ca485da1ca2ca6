using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A CUDA stream. Work on one stream runs in order; the engine uses one stream per backend.</summary>
public sealed class CudaStreamHandle : SafeHandle
{
    private CudaContextHandle? _context;

    public CudaStreamHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>Set while the stream captures a graph (<see cref="CudaGraphCapture"/>), else null.</summary>
    internal volatile CaptureState? Capture;

    internal static CudaStreamHandle Create(CudaContextHandle context)
    {
        context.MakeCurrent();
        CudaException.Check(CudaDriver.cuStreamCreate(out nint stream, CudaDriver.CU_STREAM_NON_BLOCKING));
        var h = new CudaStreamHandle { _context = context };
        context.AddReference();
        h.SetHandle(stream);
        return h;
    }

    public void Synchronize() => CudaException.Check(CudaDriver.cuStreamSynchronize(handle));

    /// <summary>This stream's later work waits for the work before <paramref name="e"/>'s last record (on any
    /// stream), on the device: the host does not wait (cuStreamWaitEvent).</summary>
    public void Wait(CudaEventHandle e) =>
        CudaException.Check(CudaDriver.cuStreamWaitEvent(handle, e.DangerousGetHandle(), 0));

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = CudaDriver.cuStreamDestroy_v2(handle) == CUresult.CUDA_SUCCESS;
        _context.ReleaseReference();
        return ok;
    }
}
