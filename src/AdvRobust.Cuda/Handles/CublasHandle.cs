using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A cuBLAS handle bound to the backend's stream.</summary>
public sealed class CublasHandle : SafeHandle
{
    private CudaContextHandle? _context;

    public CublasHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static CublasHandle Create(CudaContextHandle context, CudaStreamHandle stream)
    {
        context.MakeCurrent();
        CublasException.Check(Cublas.cublasCreate_v2(out nint h));
        var result = new CublasHandle { _context = context };
        context.AddReference();
        result.SetHandle(h);
        CublasException.Check(Cublas.cublasSetStream_v2(h, stream.DangerousGetHandle()));
        return result;
    }

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = Cublas.cublasDestroy_v2(handle) == cublasStatus_t.CUBLAS_STATUS_SUCCESS;
        _context.ReleaseReference();
        return ok;
    }
}
