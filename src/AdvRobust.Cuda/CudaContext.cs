using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// One device's primary context, the stream all work goes to, the stream-ordered memory pool, pinned staging memory
/// for host↔device copies (a ring of slots for uploads, one buffer for downloads), and the cuBLAS and cuDNN handles
/// (created on first use). Passed explicitly; no globals.
/// </summary>
public sealed class CudaContext : IDisposable
{
    private const long StagingBytes = 32L << 20;

    /// <summary>Upload ring: slots × bytes. An upload returns once its bytes sit in a slot and the copy is queued.</summary>
    internal const int RingSlots = 4;
    internal const long RingSlotBytes = 8L << 20;
    private readonly Lazy<CublasHandle> _cublas;
    private readonly Lazy<CudnnHandle> _cudnn;
    private readonly Lock _stagingGate = new();
    private PinnedHostHandle? _staging;
    private StagingSlot[]? _ring;
    private int _nextSlot;

    private CudaContext(CudaDeviceInfo device, CudaContextHandle handle)
    {
        Device = device;
        Handle = handle;
        Stream = CudaStreamHandle.Create(handle);
        _cublas = new(() => CublasHandle.Create(Handle, Stream));
        _cudnn = new(() => CudnnHandle.Create(Handle, Stream));
        KeepPoolMemory();
    }

    public CudaDeviceInfo Device { get; }
    public CudaContextHandle Handle { get; }
    public CudaStreamHandle Stream { get; }
    public CublasHandle Cublas => _cublas.Value;
    public CudnnHandle Cudnn => _cudnn.Value;

    /// <summary>Let cuBLAS use TF32 tensor cores for float GEMMs (faster, ~1e-3 relative error). Off by default.</summary>
    public bool AllowTf32 { get; set; }

    /// <summary>Initializes the driver and opens device <paramref name="ordinal"/>; throws with the reason when it can't.</summary>
    public static CudaContext Create(int ordinal = 0)
    {
        NativeLibraries.Load(NativeLibraries.Cuda);
        CudaException.Check(CudaDriver.cuInit(0));
        CudaException.Check(CudaDriver.cuDeviceGetCount(out int count));
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"device {ordinal} requested, the driver sees {count}");
        var info = CudaDeviceInfo.Query(ordinal);
        if (!info.MemoryPoolsSupported)
            throw new NotSupportedException($"{info.Name} does not support stream-ordered memory pools, which the engine needs");
        return new CudaContext(info, CudaContextHandle.Retain(info.Ordinal));
    }

    /// <summary>The devices the driver sees (initializing it).</summary>
    public static int DeviceCount()
    {
        NativeLibraries.Load(NativeLibraries.Cuda);
        CudaException.Check(CudaDriver.cuInit(0));
        CudaException.Check(CudaDriver.cuDeviceGetCount(out int count));
        return count;
    }

    public static int DriverVersion()
    {
        CudaException.Check(CudaDriver.cuDriverGetVersion(out int v));
        return v;
    }

    public void MakeCurrent() => Handle.MakeCurrent();

    public DeviceMemoryHandle Allocate(long bytes) => DeviceMemoryHandle.Allocate(Handle, Stream, bytes);

    public void Synchronize()
    {
        RefuseUnderCapture("Synchronize (waiting for the stream)");
        MakeCurrent();
        Stream.Synchronize();
    }

    /// <summary>
    /// Host → device without waiting: each chunk of up to <see cref="RingSlotBytes"/> goes into the next slot of a ring
    /// of pinned buffers, its cuMemcpyHtoDAsync is queued and the slot's event recorded; the call returns at once, and
    /// <paramref name="src"/> may be reused. A slot is refilled only when its event has completed: the host waits
    /// (cuEventSynchronize) only when the ring wraps onto a copy still in flight.
    /// </summary>
    public void CopyToDevice(ulong dst, ReadOnlySpan<byte> src)
    {
        RefuseUnderCapture("CopyToDevice (a host→device upload: a replay would copy stale staging memory)");
        MakeCurrent();
        lock (_stagingGate)
        {
            var ring = _ring ??= StagingSlot.CreateRing(Handle, RingSlots, RingSlotBytes);
            for (int offset = 0; offset < src.Length; offset += (int)RingSlotBytes)
            {
                int n = Math.Min(src.Length - offset, (int)RingSlotBytes);
                var slot = ring[_nextSlot];
                _nextSlot = (_nextSlot + 1) % ring.Length;
                slot.WaitUntilFree();
                src.Slice(offset, n).CopyTo(slot.Buffer.AsSpan());
                CudaException.Check(CudaDriver.cuMemcpyHtoDAsync_v2(dst + (ulong)offset,
                    slot.Buffer.DangerousGetHandle(), (nuint)n, Stream.DangerousGetHandle()));
                slot.Queued(Stream);
            }
        }
    }

    /// <summary>Device → host through the pinned staging buffer; waits for all earlier work on the stream.</summary>
    public void CopyToHost(Span<byte> dst, ulong src)
    {
        RefuseUnderCapture("CopyToHost (a device→host copy needs a synchronization)");
        MakeCurrent();
        lock (_stagingGate)
        {
            var staging = Staging();
            for (int offset = 0; offset < dst.Length; offset += (int)StagingBytes)
            {
                int n = Math.Min(dst.Length - offset, (int)StagingBytes);
                CudaException.Check(CudaDriver.cuMemcpyDtoHAsync_v2(staging.DangerousGetHandle(),
                    src + (ulong)offset, (nuint)n, Stream.DangerousGetHandle()));
                Stream.Synchronize();
                staging.AsSpan()[..n].CopyTo(dst.Slice(offset, n));
            }
        }
    }

    public void CopyDeviceToDevice(ulong dst, ulong src, long bytes)
    {
        MakeCurrent();
        if (bytes > 0)
            CudaException.Check(CudaDriver.cuMemcpyDtoDAsync_v2(dst, src, (nuint)bytes, Stream.DangerousGetHandle()));
    }

    /// <summary>Bytes in use and total on the device, from the driver.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        CudaException.Check(CudaDriver.cuMemGetInfo_v2(out nuint free, out nuint total));
        return ((long)free, (long)total);
    }

    /// <summary>Bytes the stream-ordered pool holds from the driver (in use or cached for reuse).</summary>
    public unsafe long PoolReservedBytes()
    {
        MakeCurrent();
        CudaException.Check(CudaDriver.cuDeviceGetDefaultMemPool(out nint pool, Device.Ordinal));
        ulong bytes = 0;
        CudaException.Check(CudaDriver.cuMemPoolGetAttribute(pool, CUmemPool_attribute.CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &bytes));
        return (long)bytes;
    }

    public void Dispose()
    {
        if (_cublas.IsValueCreated) _cublas.Value.Dispose();
        if (_cudnn.IsValueCreated) _cudnn.Value.Dispose();
        _staging?.Dispose();
        foreach (var slot in _ring ?? []) slot.Dispose();
        Stream.Dispose();
        Handle.Dispose();
    }

    /// <summary>Whether the stream is capturing a graph (set by <see cref="CudaGraphCapture"/>).</summary>
    public bool IsCapturing => Stream.Capture is not null;

    /// <summary>Calls that cannot be part of a graph fail here with a clear message before the driver refuses them.</summary>
    private void RefuseUnderCapture(string what)
    {
        if (Stream.Capture is not null)
            throw new InvalidOperationException($"{what} inside a step that is being captured as a CUDA graph");
    }

    private PinnedHostHandle Staging() => _staging ??= PinnedHostHandle.Allocate(Handle, StagingBytes);

    private unsafe void KeepPoolMemory()
    {
        MakeCurrent();
        CudaException.Check(CudaDriver.cuDeviceGetDefaultMemPool(out nint pool, Device.Ordinal));
        ulong keepAll = ulong.MaxValue;
        CudaException.Check(CudaDriver.cuMemPoolSetAttribute(pool,
            CUmemPool_attribute.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keepAll));
    }

    /// <summary>One pinned upload buffer and the event that marks its last copy done.</summary>
    private sealed class StagingSlot : IDisposable
    {
        private bool _inFlight;

        private StagingSlot(PinnedHostHandle buffer, CudaEventHandle done)
        {
            Buffer = buffer;
            Done = done;
        }

        public PinnedHostHandle Buffer { get; }
        public CudaEventHandle Done { get; }

        public static StagingSlot[] CreateRing(CudaContextHandle context, int slots, long bytes) =>
            Enumerable.Range(0, slots)
                .Select(_ => new StagingSlot(PinnedHostHandle.Allocate(context, bytes), CudaEventHandle.Create(context)))
                .ToArray();

        /// <summary>Waits for the slot's previous copy only if it is still running (cuEventQuery first).</summary>
        public void WaitUntilFree()
        {
            if (_inFlight && !Done.IsComplete()) Done.Synchronize();
            _inFlight = false;
        }

        public void Queued(CudaStreamHandle stream)
        {
            Done.Record(stream);
            _inFlight = true;
        }

        public void Dispose()
        {
            Buffer.Dispose();
            Done.Dispose();
        }
    }
}
