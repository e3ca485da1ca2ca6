using AdvRobust.Core;
using AdvRobust.Cpu;
using AdvRobust.Cuda;

namespace AdvRobust.Benchmarks.Support;

/// <summary>
/// The devices benchmarks run on: "cpu" always, "cuda" only when <see cref="CudaBackend.Create"/> succeeds. The probe
/// runs once per process and its backend is shared by every benchmark (benchmarks run in-process, so the NVRTC
/// kernels and cuBLAS handle are built once); <see cref="Shutdown"/> disposes it when the run ends.
/// </summary>
public static class BenchDevices
{
    public const string Cpu = "cpu";
    public const string Cuda = "cuda";

    private static readonly Lazy<(CudaBackend? Backend, string? Reason)> _cuda = new(Probe);

    /// <summary>The values of every benchmark's Device parameter.</summary>
    public static IEnumerable<string> Names => CudaBackend is null ? [Cpu] : [Cpu, Cuda];

    /// <summary>The shared CUDA backend, or null when there is no usable GPU.</summary>
    public static CudaBackend? CudaBackend => _cuda.Value.Backend;

    /// <summary>Why "cuda" is not offered (null when it is).</summary>
    public static string? CudaUnavailableReason => _cuda.Value.Reason;

    public static IBackend Open(string device) => device switch
    {
        Cpu => CpuBackend.Instance,
        Cuda => CudaBackend ?? throw new InvalidOperationException($"no CUDA device: {CudaUnavailableReason}"),
        _ => throw new ArgumentException($"unknown device '{device}' (expected '{Cpu}' or '{Cuda}')", nameof(device)),
    };

    public static void Shutdown()
    {
        if (_cuda.IsValueCreated) _cuda.Value.Backend?.Dispose();
    }

    private static (CudaBackend?, string?) Probe()
    {
        try
        {
            return (AdvRobust.Cuda.CudaBackend.Create(), null);
        }
        catch (Exception e)
        {
            // No driver, no device, no NVRTC: every such failure means "cpu only"; the reason is printed once.
            return (null, $"{e.GetType().Name}: {e.Message}");
        }
    }
}
