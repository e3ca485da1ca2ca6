using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// The retained primary context of one device. Every handle that needs the context alive holds a reference on this
/// one (SafeHandle reference counting), so the context is released last, even when finalizers run in any order.
/// </summary>
public sealed class CudaContextHandle : SafeHandle
{
    public CudaContextHandle() : base(0, ownsHandle: true)
    {
    }

    public int Device { get; private set; }
    public override bool IsInvalid => handle == 0;

    internal static CudaContextHandle Retain(int device)
    {
        CudaException.Check(CudaDriver.cuDevicePrimaryCtxRetain(out nint ctx, device));
        var h = new CudaContextHandle { Device = device };
        h.SetHandle(ctx);
        return h;
    }

    /// <summary>Makes the context current on the calling thread (cheap when it already is).</summary>
    public void MakeCurrent()
    {
        CudaException.Check(CudaDriver.cuCtxGetCurrent(out nint current));
        if (current != handle) CudaException.Check(CudaDriver.cuCtxSetCurrent(handle));
    }

    /// <summary>Takes a reference for a dependent handle; give it back with <see cref="ReleaseReference"/>.</summary>
    internal nint AddReference()
    {
        bool added = false;
        DangerousAddRef(ref added);
        return handle;
    }

    internal void ReleaseReference() => DangerousRelease();

    /// <summary>Binds a raw context on the releasing thread (finalizer or Dispose) before a free call.</summary>
    internal static void BindForRelease(nint ctx) => CudaDriver.cuCtxSetCurrent(ctx);

    protected override bool ReleaseHandle() =>
        CudaDriver.cuDevicePrimaryCtxRelease_v2(Device) == CUresult.CUDA_SUCCESS;
}
