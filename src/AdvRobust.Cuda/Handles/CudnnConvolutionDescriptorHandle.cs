using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// A cuDNN convolution descriptor (cudnnCreateConvolutionDescriptor). Descriptors are host-side objects: freeing one
/// needs no context, so ReleaseHandle binds none.
/// </summary>
public sealed class CudnnConvolutionDescriptorHandle : SafeHandle
{
    public CudnnConvolutionDescriptorHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static CudnnConvolutionDescriptorHandle Create()
    {
        CudnnException.Check(Cudnn.cudnnCreateConvolutionDescriptor(out nint d));
        var result = new CudnnConvolutionDescriptorHandle();
        result.SetHandle(d);
        return result;
    }

    protected override bool ReleaseHandle() =>
        Cudnn.cudnnDestroyConvolutionDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}
