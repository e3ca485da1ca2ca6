using System.Text;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>What the driver says about one device.</summary>
public sealed record CudaDeviceInfo(
    int Ordinal,
    string Name,
    int Major,
    int Minor,
    int Multiprocessors,
    long TotalMemoryBytes,
    int ClockKHz,
    int MemoryClockKHz,
    int MemoryBusWidthBits,
    int L2CacheBytes,
    int MaxSharedMemoryPerBlockOptin,
    bool MemoryPoolsSupported)
{
    /// <summary>"sm_90" for compute capability 9.0.</summary>
    public string Arch => $"sm_{Major}{Minor}";

    /// <summary>Theoretical DRAM bandwidth from the driver's clock and bus width (double data rate), GB/s.
    /// Benchmarks report against the measured device-to-device copy bandwidth, which is the honest ceiling.</summary>
    public double TheoreticalBandwidthGBps => 2.0 * MemoryClockKHz * 1e3 * (MemoryBusWidthBits / 8.0) / 1e9;

    public override string ToString() =>
        $"{Name} ({Arch}, {Multiprocessors} SMs, {TotalMemoryBytes / (1L << 30)} GiB)";

    internal static unsafe CudaDeviceInfo Query(int ordinal)
    {
        CudaException.Check(CudaDriver.cuDeviceGet(out int dev, ordinal));
        byte* name = stackalloc byte[256];
        CudaException.Check(CudaDriver.cuDeviceGetName(name, 256, dev));
        int length = 0;
        while (length < 256 && name[length] != 0) length++;
        CudaException.Check(CudaDriver.cuDeviceTotalMem_v2(out nuint total, dev));
        int Attr(CUdevice_attribute a)
        {
            CudaException.Check(CudaDriver.cuDeviceGetAttribute(out int v, a, dev));
            return v;
        }
        return new CudaDeviceInfo(
            dev,
            Encoding.UTF8.GetString(name, length),
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
            (long)total,
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_CLOCK_RATE),
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE),
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH),
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE),
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
            Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED) != 0);
    }
}
