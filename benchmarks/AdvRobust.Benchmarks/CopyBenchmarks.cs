using AdvRobust.Benchmarks.Support;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// A plain buffer copy, the bandwidth ceiling the memory-bound rows are judged against: cuMemcpyDtoDAsync of 1 GiB on
/// cuda (what <see cref="DeviceCeilings"/> measures for "% of peak"), a managed span copy of 256 MiB on cpu.
/// Traffic: every byte is read once and written once = 2·bytes per copy.
/// </summary>
public class CopyBenchmarks : OpBenchmark
{
    private Tensor _src = null!, _dst = null!;

    [ParamsSource(nameof(Sizes))]
    public CopySize Size { get; set; } = new(256 << 20, Targets.Cpu);

    public static IEnumerable<CopySize> Sizes =>
        [new(DeviceCeilings.CopyBytes, Targets.Cuda), new(256 << 20, Targets.Cpu)];

    [Benchmark]
    public void Copy() => LaunchAndWait(CopyOnce);

    protected override void Allocate()
    {
        int floats = checked((int)(Size.Bytes / sizeof(float)));
        _src = Empty(DType.Float32, floats);
        _dst = Empty(DType.Float32, floats);
        Ops.Fill(_src, 1f);
        Ops.Fill(_dst, 0f);
    }

    protected override IEnumerable<BenchOp> Launches() => [new(nameof(Copy), Work.Bytes(2.0 * Size.Bytes), CopyOnce)];

    private void CopyOnce() => Ops.Copy(_src, _dst);

    /// <summary>Bytes per buffer.</summary>
    public sealed record CopySize(long Bytes, Targets Targets) : IShape
    {
        public override string ToString() => Bytes >= 1L << 30 ? $"{Bytes >> 30} GiB" : $"{Bytes >> 20} MiB";
    }
}
