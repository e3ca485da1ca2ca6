using System.CommandLine;
using AdvRobust.Core;
using AdvRobust.Cpu;
using AdvRobust.Cuda;

namespace AdvRobust.Cli.Commands;

/// <summary>The shared --device / --tf32 options and the backend they choose.</summary>
internal static class BackendOption
{
    public static Option<string> Device() => new("--device")
    {
        Description = "cpu (default, the reference) or cuda",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<bool> Tf32() => new("--tf32") { Description = "allow TF32 tensor cores in cuBLAS/cuDNN (cuda only)" };

    public static IBackend Create(string device, bool tf32) => device switch
    {
        "cpu" => CpuBackend.Instance,
        "cuda" => CudaBackend.Create(allowTf32: tf32),
        _ => throw new ArgumentException($"--device must be cpu or cuda, got '{device}'"),
    };
}
