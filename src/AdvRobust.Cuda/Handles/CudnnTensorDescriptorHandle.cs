using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// A cuDNN tensor descriptor (cudnnCreateTensorDescriptor). Descriptors are host-side objects: freeing one needs no
/// context, so ReleaseHandle binds none.
/// </summary>
public sealed class CudnnTensorDescriptorHandle : SafeHandle
{
    public CudnnTensorDescriptorHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static CudnnTensorDescriptorHandle Create()
    {
        CudnnException.Check(Cudnn.cudnnCreateTensorDescriptor(out nint d));
        var result = new CudnnTensorDescriptorHandle();
        result.SetHandle(d);
        return result;
    }

    protected override bool ReleaseHandle() =>
        Cudnn.cudnnDestroyTensorDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}
