using AdvRobust.Benchmarks.Support;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// One PGD step plus projection (kernels/pgd.cu, CpuBackend.Pgd.cs), in place on x, for CIFAR-sized batches.
/// Shape letters: N images of C×H×W; the step works on N·C·H·W elements.
/// Traffic (pgd.cu header): the l-inf step reads x, x0, g and writes x = 16 B per element. The l2 step issues 36 B per
/// element, but its three passes over a sample re-read the same 12 KB from L2, so its DRAM traffic is also 16 B; both
/// rows count the 16 compulsory bytes, so their GB/s compare directly with each other and with the copy ceiling.
/// </summary>
public class PgdStepBenchmarks : OpBenchmark
{
    public const long BytesPerElement = 16;

    private static readonly PgdParams _linf = new(Alpha: 2f / 255, Eps: 8f / 255);
    private static readonly PgdParams _l2 = new(Alpha: 0.1f, Eps: 0.5f);
    private Tensor _x = null!, _x0 = null!, _grad = null!;

    [ParamsSource(nameof(Batches))]
    public ImageBatch Batch { get; set; } = new(128, 3, 32, 32);

    public static IEnumerable<ImageBatch> Batches => [new(512, 3, 32, 32), new(128, 3, 32, 32)];

    [Benchmark]
    public void Linf() => LaunchAndWait(StepLinf);

    [Benchmark]
    public void L2() => LaunchAndWait(StepL2);

    protected override void Allocate()
    {
        int[] dims = [Batch.N, Batch.C, Batch.H, Batch.W];
        _x0 = Uniform(1, 0f, 1f, dims);
        _x = Empty(DType.Float32, dims);
        Ops.Copy(_x0, _x);
        _grad = Uniform(2, -1f, 1f, dims);
    }

    protected override IEnumerable<BenchOp> Launches()
    {
        var traffic = Work.Bytes(BytesPerElement * Batch.Elements);
        return [new(nameof(Linf), traffic, StepLinf), new(nameof(L2), traffic, StepL2)];
    }

    private void StepLinf() => Ops.PgdStep(PgdNorm.Linf, _x, _x0, _grad, _linf);

    private void StepL2() => Ops.PgdStep(PgdNorm.L2, _x, _x0, _grad, _l2);

    /// <summary>N images of C×H×W floats.</summary>
    public sealed record ImageBatch(int N, int C, int H, int W) : IShape
    {
        public long Elements => (long)N * C * H * W;
        public Targets Targets => Targets.Both;
        public override string ToString() => $"{N}x{C}x{H}x{W}";
    }
}
