using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A CUDA event: times work on a stream (GPU time, not host time) and marks when an upload slot is free.</summary>
public sealed class CudaEventHandle : SafeHandle
{
    private CudaContextHandle? _context;

    public CudaEventHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static CudaEventHandle Create(CudaContextHandle context)
    {
        context.MakeCurrent();
        CudaException.Check(CudaDriver.cuEventCreate(out nint ev, CudaDriver.CU_EVENT_DEFAULT));
        var h = new CudaEventHandle { _context = context };
        context.AddReference();
        h.SetHandle(ev);
        return h;
    }

    public void Record(CudaStreamHandle stream) =>
        CudaException.Check(CudaDriver.cuEventRecord(handle, stream.DangerousGetHandle()));

    public void Synchronize() => CudaException.Check(CudaDriver.cuEventSynchronize(handle));

    /// <summary>Whether the work before the event's last record has finished (cuEventQuery; never waits).</summary>
    public bool IsComplete()
    {
        var r = CudaDriver.cuEventQuery(handle);
        if (r == CUresult.CUDA_ERROR_NOT_READY) return false;
        CudaException.Check(r);
        return true;
    }

    /// <summary>Milliseconds between two recorded events (waits for the end event).</summary>
    public static float ElapsedMilliseconds(CudaEventHandle start, CudaEventHandle end)
    {
        end.Synchronize();
        float ms;
        try
        {
            CudaException.Check(CudaDriver.cuEventElapsedTime_v2(out ms, start.handle, end.handle));
        }
        catch (EntryPointNotFoundException)
        {
            // Drivers before CUDA 12.8 export only the original symbol.
            CudaException.Check(CudaDriver.cuEventElapsedTime(out ms, start.handle, end.handle));
        }
        return ms;
    }

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = CudaDriver.cuEventDestroy_v2(handle) == CUresult.CUDA_SUCCESS;
        _context.ReleaseReference();
        return ok;
    }
}
