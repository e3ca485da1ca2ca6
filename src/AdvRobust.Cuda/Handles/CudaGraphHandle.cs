using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A captured CUDA graph (cuStreamEndCapture); instantiate it to launch it.</summary>
public sealed class CudaGraphHandle : SafeHandle
{
    private CudaContextHandle? _context;

    public CudaGraphHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static CudaGraphHandle FromRaw(CudaContextHandle context, nint graph)
    {
        var h = new CudaGraphHandle { _context = context };
        context.AddReference();
        h.SetHandle(graph);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = CudaDriver.cuGraphDestroy(handle) == CUresult.CUDA_SUCCESS;
        _context.ReleaseReference();
        return ok;
    }
}
