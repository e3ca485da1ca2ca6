using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// Device memory from the stream-ordered pool (cuMemAllocAsync on the backend's stream). Freed with cuMemFreeAsync on
/// the same stream, so a free never races a kernel that still reads the buffer; the pool keeps the memory for reuse
/// (its release threshold is set to "never"), so steady-state training does no driver allocation per step. Both calls
/// are legal under stream capture (graph memory nodes); see <see cref="CaptureState"/> for what the engine adds.
/// </summary>
public sealed class DeviceMemoryHandle : SafeHandle
{
    private CudaContextHandle? _context;
    private CudaStreamHandle? _stream;
    private CaptureState? _capture;

    public DeviceMemoryHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;
    public long Bytes { get; private set; }
    public ulong Pointer => (ulong)handle;

    internal static DeviceMemoryHandle Allocate(CudaContextHandle context, CudaStreamHandle stream, long bytes)
    {
        context.MakeCurrent();
        // A zero-byte tensor still gets a distinct, valid pointer: round up to 4 bytes.
        nuint size = (nuint)Math.Max(bytes, 4);
        var r = CudaDriver.cuMemAllocAsync(out ulong ptr, size, stream.DangerousGetHandle());
        if (r == CUresult.CUDA_ERROR_OUT_OF_MEMORY)
        {
            CudaDriver.cuMemGetInfo_v2(out nuint free, out nuint total);
            throw new CudaException(r, $"cuMemAllocAsync({bytes} bytes)",
                $"the GPU has {free / (1 << 20)} MiB free of {total / (1 << 20)} MiB; use a smaller batch");
        }
        CudaException.Check(r);
        // Under stream capture this is a graph memory node (legal); the capture tracks that it is freed inside the step.
        var capture = stream.Capture;
        capture?.Allocated();
        var h = new DeviceMemoryHandle { _context = context, _stream = stream, Bytes = bytes, _capture = capture };
        context.AddReference();
        bool added = false;
        stream.DangerousAddRef(ref added);
        h.SetHandle((nint)ptr);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = true;
        var capture = _stream!.Capture;
        if (capture is not null && capture != _capture)
            capture.DeferFree((ulong)handle, Bytes);  // freed with cuMemFreeAsync when the capture has ended
        else
        {
            if (capture is not null) capture.FreedInside();
            ok = CudaDriver.cuMemFreeAsync((ulong)handle, _stream.DangerousGetHandle()) == CUresult.CUDA_SUCCESS;
        }
        _stream.DangerousRelease();
        _context.ReleaseReference();
        return ok;
    }
}
