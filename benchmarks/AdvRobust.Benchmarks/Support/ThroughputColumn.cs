using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks.Support;

/// <summary>GB/s or FLOP/s from the class's traffic or FLOP formula and the row's time.</summary>
public sealed class ThroughputColumn() : EngineColumn("Throughput", 1,
    "Work per launch (bytes from the kernel header's traffic formula, 2 FLOPs per multiply-add, or images per " +
    "attack or training step) / time per " +
    "launch; time = GPU ms (events) on cuda, BenchmarkDotNet's Mean on cpu")
{
    protected override string Value(Summary summary, BenchmarkCase c, CaseRecord record) =>
        RowMs(summary, c, record) is { } ms ? record.Work.FormatRate(ms) : "?";
}
