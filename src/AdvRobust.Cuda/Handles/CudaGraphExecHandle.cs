using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>An instantiated CUDA graph: launched as a whole on a stream, as often as wanted.</summary>
public sealed class CudaGraphExecHandle : SafeHandle
{
    private CudaContextHandle? _context;

    public CudaGraphExecHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static CudaGraphExecHandle Instantiate(CudaContextHandle context, CudaGraphHandle graph)
    {
        context.MakeCurrent();
        CudaException.Check(CudaDriver.cuGraphInstantiateWithFlags(out nint exec, graph.DangerousGetHandle(), 0));
        var h = new CudaGraphExecHandle { _context = context };
        context.AddReference();
        h.SetHandle(exec);
        return h;
    }

    public void Launch(CudaStreamHandle stream) =>
        CudaException.Check(CudaDriver.cuGraphLaunch(handle, stream.DangerousGetHandle()));

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = CudaDriver.cuGraphExecDestroy(handle) == CUresult.CUDA_SUCCESS;
        _context.ReleaseReference();
        return ok;
    }
}
