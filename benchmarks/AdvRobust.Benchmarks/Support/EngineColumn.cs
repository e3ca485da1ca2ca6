using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks.Support;

/// <summary>
/// Base of the engine's summary columns. A row's time is the GPU event time (<see cref="CaseRecord.GpuMs"/>) on the
/// cuda device and BenchmarkDotNet's mean on the cpu device; its work comes from the benchmark class's formula via
/// <see cref="Measurements"/>. "?" means the case left no record (it failed, or ran out of process).
/// </summary>
public abstract class EngineColumn(string columnName, int priority, string legend) : IColumn
{
    public string Id => GetType().Name;
    public string ColumnName { get; } = columnName;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory { get; } = priority;
    public bool IsNumeric => false;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend { get; } = legend;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
        GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
        Measurements.Find(CaseKey.For(benchmarkCase)) is { } record ? Value(summary, benchmarkCase, record) : "?";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <summary>Shown by default; the GPU-only columns hide themselves when no row ran on a GPU.</summary>
    public virtual bool IsAvailable(Summary summary) => true;

    protected abstract string Value(Summary summary, BenchmarkCase benchmarkCase, CaseRecord record);

    protected static string? DeviceOf(BenchmarkCase c) =>
        c.Parameters.Items.FirstOrDefault(p => p.Name == nameof(OpBenchmark.Device))?.Value as string;

    protected static bool AnyCuda(Summary summary) =>
        summary.BenchmarksCases.Any(c => DeviceOf(c) == BenchDevices.Cuda);

    /// <summary>Milliseconds per launch: GPU events on cuda, BenchmarkDotNet's mean on cpu; null if none.</summary>
    protected static double? RowMs(Summary summary, BenchmarkCase c, CaseRecord record) =>
        record.GpuMs ?? summary[c]?.ResultStatistics?.Mean / 1e6;
}
