using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks.Support;

/// <summary>GPU milliseconds per launch from CUDA events (median of <see cref="GpuTimer.Repetitions"/>).</summary>
public sealed class GpuMsColumn() : EngineColumn("GPU ms (events)", 0,
    "GPU time per launch: CUDA events around K back-to-back launches on the backend's stream, median of " +
    $"{GpuTimer.Repetitions} repetitions, after {GpuTimer.WarmupLaunches} warm-up launches")
{
    public override bool IsAvailable(Summary summary) => AnyCuda(summary);

    protected override string Value(Summary summary, BenchmarkCase c, CaseRecord record) =>
        record.GpuMs is { } ms ? ms.ToString("F4") : "-";
}
