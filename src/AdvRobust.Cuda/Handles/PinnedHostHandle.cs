using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>Page-locked host memory: the staging buffer for asynchronous host↔device copies.</summary>
public sealed class PinnedHostHandle : SafeHandle
{
    private CudaContextHandle? _context;

    public PinnedHostHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;
    public long Bytes { get; private set; }

    internal static PinnedHostHandle Allocate(CudaContextHandle context, long bytes)
    {
        context.MakeCurrent();
        CudaException.Check(CudaDriver.cuMemAllocHost_v2(out nint p, (nuint)Math.Max(bytes, 4)));
        var h = new PinnedHostHandle { _context = context, Bytes = bytes };
        context.AddReference();
        h.SetHandle(p);
        return h;
    }

    public unsafe Span<byte> AsSpan() => new((void*)handle, checked((int)Bytes));

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = CudaDriver.cuMemFreeHost(handle) == CUresult.CUDA_SUCCESS;
        _context.ReleaseReference();
        return ok;
    }
}
