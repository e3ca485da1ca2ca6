using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// A cuDNN filter descriptor (cudnnCreateFilterDescriptor). Descriptors are host-side objects: freeing one needs no
/// context, so ReleaseHandle binds none.
/// </summary>
public sealed class CudnnFilterDescriptorHandle : SafeHandle
{
    public CudnnFilterDescriptorHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static CudnnFilterDescriptorHandle Create()
    {
        CudnnException.Check(Cudnn.cudnnCreateFilterDescriptor(out nint d));
        var result = new CudnnFilterDescriptorHandle();
        result.SetHandle(d);
        return result;
    }

    protected override bool ReleaseHandle() =>
        Cudnn.cudnnDestroyFilterDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}
