using AdvRobust.Core;
using AdvRobust.Cpu;

namespace AdvRobust.Tests.Support;

/// <summary>
/// Where GPU tests get their backend. The CUDA backend is created once per test run; when there is no driver,
/// no device or a library is missing, every GPU test is ignored with that reason (Category "Gpu").
/// </summary>
public static class Backends
{
    public static IBackend Cpu => CpuBackend.Instance;

    private static readonly Lazy<(IBackend? Backend, string Reason)> Gpu = new(CreateCuda);

    /// <summary>The CUDA backend, or Assert.Ignore with the reason there is none.</summary>
    public static IBackend CudaOrIgnore()
    {
        var (backend, reason) = Gpu.Value;
        if (backend is null) Assert.Ignore($"no usable CUDA device: {reason}");
        return backend!;
    }

    private static (IBackend?, string) CreateCuda()
    {
        try
        {
            return (AdvRobust.Cuda.CudaBackend.Create(), "");
        }
        catch (Exception e)
        {
            return (null, e.Message);
        }
    }
}
