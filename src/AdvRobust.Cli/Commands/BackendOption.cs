using System.CommandLine;
using AdvRobust.Core;
using AdvRobust.Cpu;
using AdvRobust.Cuda;
using AdvRobust.Distributed;

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
        // one rank per GPU of its node: local rank modulo the devices (device 0 for a single process)
        "cuda" => CudaBackend.Create(World.LaunchedSize > 1
            ? World.DeviceFor(World.LaunchedLocalRank, CudaContext.DeviceCount()) : 0, allowTf32: tf32),
        _ => throw new ArgumentException($"--device must be cpu or cuda, got '{device}'"),
    };
}
