using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks.Support;

/// <summary>The CPU reference is the baseline: the cpu row's time over this row's, same method and shape.</summary>
public sealed class VsCpuColumn() : EngineColumn("vs CPU", 3,
    "Speed-up over the cpu row of the same method and shape (the CPU reference is the baseline); '-' where the " +
    "shape is too large to run on the CPU")
{
    public override bool IsAvailable(Summary summary) => AnyCuda(summary);

    protected override string Value(Summary summary, BenchmarkCase c, CaseRecord record)
    {
        if (DeviceOf(c) == BenchDevices.Cpu) return "baseline";
        var cpu = summary.BenchmarksCases.FirstOrDefault(other => IsCpuTwin(other, c));
        if (cpu is null || Measurements.Find(CaseKey.For(cpu)) is not { } cpuRecord) return "-";
        return RowMs(summary, cpu, cpuRecord) is { } cpuMs && RowMs(summary, c, record) is { } ms
            ? $"{cpuMs / ms:N1}×"
            : "?";
    }

    private static bool IsCpuTwin(BenchmarkCase other, BenchmarkCase c) =>
        DeviceOf(other) == BenchDevices.Cpu &&
        other.Descriptor.Type == c.Descriptor.Type &&
        other.Descriptor.WorkloadMethod.Name == c.Descriptor.WorkloadMethod.Name &&
        other.Parameters.Items.Where(p => p.Name != nameof(OpBenchmark.Device)).Select(p => $"{p.Name}={p.Value}")
            .SequenceEqual(c.Parameters.Items.Where(p => p.Name != nameof(OpBenchmark.Device))
                .Select(p => $"{p.Name}={p.Value}"));
}
