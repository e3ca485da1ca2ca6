using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// One device's primary context, the stream all work goes to, the stream-ordered memory pool, a pinned staging buffer
/// for host↔device copies, and the cuBLAS and cuDNN handles (created on first use). Passed explicitly; no globals.
/// </summary>
public sealed class CudaContext : IDisposable
{
    private const long StagingBytes = 32L << 20;
    private readonly Lazy<CublasHandle> _cublas;
    private readonly Lazy<CudnnHandle> _cudnn;
    private readonly Lock _stagingGate = new();
    private PinnedHostHandle? _staging;

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

    public static int DriverVersion()
    {
        CudaException.Check(CudaDriver.cuDriverGetVersion(out int v));
        return v;
    }

    public void MakeCurrent() => Handle.MakeCurrent();

    public DeviceMemoryHandle Allocate(long bytes) => DeviceMemoryHandle.Allocate(Handle, Stream, bytes);

    public void Synchronize()
    {
        MakeCurrent();
        Stream.Synchronize();
    }

    /// <summary>Host → device through the pinned staging buffer, in chunks; returns when the copy is done.</summary>
    public void CopyToDevice(ulong dst, ReadOnlySpan<byte> src)
    {
        MakeCurrent();
        lock (_stagingGate)
        {
            var staging = Staging();
            for (int offset = 0; offset < src.Length; offset += (int)StagingBytes)
            {
                int n = Math.Min(src.Length - offset, (int)StagingBytes);
                src.Slice(offset, n).CopyTo(staging.AsSpan());
                CudaException.Check(CudaDriver.cuMemcpyHtoDAsync_v2(dst + (ulong)offset,
                    staging.DangerousGetHandle(), (nuint)n, Stream.DangerousGetHandle()));
                Stream.Synchronize();
            }
        }
    }

    /// <summary>Device → host through the pinned staging buffer; waits for all earlier work on the stream.</summary>
    public void CopyToHost(Span<byte> dst, ulong src)
    {
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
        Stream.Dispose();
        Handle.Dispose();
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
}
