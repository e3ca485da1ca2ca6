using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace AdvRobust.Benchmarks.Support;

/// <summary>
/// The one config: every job runs in-process (a mutator job adds the in-process toolchain to whatever job the
/// command line picks, e.g. --job short), so the shared CUDA backend, the NVRTC kernels and the
/// <see cref="Measurements"/> registry survive from [GlobalSetup] to the summary columns; the shape filter; and
/// the engine's columns. <paramref name="peerRows"/> adds <see cref="Peer.PeerFilter"/> (one `bench --peer` round).
/// </summary>
public static class BenchConfig
{
    public static IConfig Create(bool peerRows = false)
    {
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsMutator())
            .AddFilter(new ShapeFilter())
            .AddColumn(new GpuMsColumn(), new ThroughputColumn(), new PercentOfPeakColumn(), new VsCpuColumn());
        return peerRows ? config.AddFilter(new Peer.PeerFilter()) : config;
    }
}
