using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A cuDNN handle bound to the backend's stream.</summary>
public sealed class CudnnHandle : SafeHandle
{
    private CudaContextHandle? _context;

    public CudnnHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static CudnnHandle Create(CudaContextHandle context, CudaStreamHandle stream)
    {
        context.MakeCurrent();
        CudnnException.Check(Cudnn.cudnnCreate(out nint h));
        var result = new CudnnHandle { _context = context };
        context.AddReference();
        result.SetHandle(h);
        CudnnException.Check(Cudnn.cudnnSetStream(h, stream.DangerousGetHandle()));
        return result;
    }

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = Cudnn.cudnnDestroy(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
        _context.ReleaseReference();
        return ok;
    }
}
