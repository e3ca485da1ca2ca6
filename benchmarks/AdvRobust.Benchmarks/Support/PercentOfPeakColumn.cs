using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks.Support;

/// <summary>A GPU row's throughput against the measured copy bandwidth or the FP32 peak.</summary>
public sealed class PercentOfPeakColumn() : EngineColumn("% of peak", 2,
    "cuda rows only: GB/s / measured device-to-device copy GB/s (2·bytes per copy), or FLOP/s / FP32 peak " +
    "(2 · SMs · FP32 lanes per SM (128 on sm_86+, 64 on sm_80 and older) · boost clock); '-' for img/s rows")
{
    public override bool IsAvailable(Summary summary) => AnyCuda(summary);

    protected override string Value(Summary summary, BenchmarkCase c, CaseRecord record)
    {
        if (record.GpuMs is not { } ms || BenchDevices.CudaBackend is not { } cuda) return "-";
        if (record.Work.Unit == WorkUnit.Images) return "-"; // a whole model step has no single ceiling
        double rate = record.Work.PerSecond(ms);
        double? peak = record.Work.Unit == WorkUnit.Bytes
            ? DeviceCeilings.KnownCopyBandwidthGBps * 1e9
            : DeviceCeilings.Fp32PeakFlops(cuda.Context.Device);
        return peak is { } p ? $"{100 * rate / p:F1} %" : "?";
    }
}
