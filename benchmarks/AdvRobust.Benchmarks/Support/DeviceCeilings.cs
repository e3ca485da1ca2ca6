using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;

namespace AdvRobust.Benchmarks.Support;

/// <summary>
/// The two ceilings the "% of peak" column divides by.
/// Bandwidth: measured, not from the data sheet: a device-to-device copy of <see cref="CopyBytes"/> (1 GiB, or a
/// quarter of free memory if less), counted as read + write = 2·bytes per copy (cuda-samples bandwidthTest's
/// convention), median of <see cref="GpuTimer"/> repetitions. CopyBenchmarks shows the same copy as a row.
/// FP32 peak: 2 (an FMA) · SMs · FP32 lanes per SM · clock, where the clock is the driver's CLOCK_RATE (the boost
/// clock) and the lanes are 128 per SM on sm_86 and newer (sm_89, sm_90 Hopper, ...) and 64 on sm_80 (A100) and older.
/// </summary>
public static class DeviceCeilings
{
    public const long CopyBytes = 1L << 30;

    private static readonly Lock _gate = new();
    private static double? _copyGBps;

    /// <summary>Measures the copy bandwidth once per process (call it outside any measured region).</summary>
    public static double CopyBandwidthGBps(CudaBackend backend)
    {
        lock (_gate)
        {
            if (_copyGBps is { } known) return known;
            long bytes = Math.Min(CopyBytes, backend.Context.MemoryInfo().Free / 4) / sizeof(float) * sizeof(float);
            using var src = Tensor.Empty(backend, DType.Float32, checked((int)(bytes / sizeof(float))));
            using var dst = Tensor.Empty(backend, DType.Float32, src.Shape[0]);
            Ops.Fill(src, 1f);
            Ops.Fill(dst, 0f);
            double ms = GpuTimer.MedianMs(backend, () => Ops.Copy(src, dst));
            backend.Synchronize();
            _copyGBps = 2.0 * bytes / (ms * 1e-3) / 1e9;
            return _copyGBps.Value;
        }
    }

    /// <summary>The measured copy bandwidth if it was measured in this process.</summary>
    public static double? KnownCopyBandwidthGBps
    {
        get
        {
            lock (_gate) return _copyGBps;
        }
    }

    /// <summary>One line with both ceilings and the peak formula filled in, printed after a GPU run.</summary>
    public static string Describe(CudaBackend backend)
    {
        var d = backend.Context.Device;
        return $"{d}: measured device-to-device copy {CopyBandwidthGBps(backend):N0} GB/s (2·bytes per copy); " +
            $"FP32 peak 2 · {d.Multiprocessors} SMs · {Fp32LanesPerSm(d)} lanes · {d.ClockKHz / 1e6:F3} GHz = " +
            $"{Fp32PeakFlops(d) / 1e12:F1} TFLOP/s";
    }

    public static int Fp32LanesPerSm(CudaDeviceInfo d) => d.Major > 8 || (d.Major == 8 && d.Minor >= 6) ? 128 : 64;

    /// <summary>FP32 FLOP/s: 2 · SMs · lanes · clock (the driver's CLOCK_RATE, the boost clock, in kHz).</summary>
    public static double Fp32PeakFlops(CudaDeviceInfo d) =>
        2.0 * d.Multiprocessors * Fp32LanesPerSm(d) * d.ClockKHz * 1e3;
}
