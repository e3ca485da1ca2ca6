using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// A cuDNN activation descriptor (cudnnCreateActivationDescriptor), for the fused convolution + bias + activation.
/// A host-side object: freeing it needs no context, so ReleaseHandle binds none.
/// </summary>
public sealed class CudnnActivationDescriptorHandle : SafeHandle
{
    public CudnnActivationDescriptorHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>A ReLU (NaN not propagated; coef unused) descriptor.</summary>
    internal static CudnnActivationDescriptorHandle Relu()
    {
        CudnnException.Check(Cudnn.cudnnCreateActivationDescriptor(out nint d));
        var result = new CudnnActivationDescriptorHandle();
        result.SetHandle(d);
        try
        {
            CudnnException.Check(Cudnn.cudnnSetActivationDescriptor(d, cudnnActivationMode_t.CUDNN_ACTIVATION_RELU,
                cudnnNanPropagation_t.CUDNN_NOT_PROPAGATE_NAN, 0.0));
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    protected override bool ReleaseHandle() =>
        Cudnn.cudnnDestroyActivationDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}
