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

    /// <summary>The context this thread last made current through this class (0: none yet).</summary>
    [ThreadStatic] private static nint t_current;

    /// <summary>
    /// Makes the context current on the calling thread. The engine is the only one setting contexts on its threads, so
    /// a thread-static remembers what is current: no driver call on the launch path once it is.
    /// </summary>
    public void MakeCurrent()
    {
        if (t_current == handle) return;
        CudaException.Check(CudaDriver.cuCtxSetCurrent(handle));
        t_current = handle;
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
    internal static void BindForRelease(nint ctx)
    {
        if (t_current == ctx) return;
        CudaDriver.cuCtxSetCurrent(ctx);
        t_current = ctx;
    }

    protected override bool ReleaseHandle()
    {
        t_current = 0;  // a later context (even at the same address) is made current again
        return CudaDriver.cuDevicePrimaryCtxRelease_v2(Device) == CUresult.CUDA_SUCCESS;
    }
}
