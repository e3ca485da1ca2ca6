using AdvRobust.Benchmarks.Support;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// Pairwise distance matrices (kernels/distance.cu: cuBLAS A·Bᵀ, then distance_epilogue_f32 in place; on the CPU,
/// CpuBackend.Distance.cs: RowDots, a blocked double GEMM, with the epilogue fused per block). Euclidean is the row
/// to hold against torch.cdist (p = 2) in the same run.
/// Shape letters: A is N×D, B is M×D, dist is N×M; here N = M and D = 512 (an embedding).
/// FLOPs: 2·N·M·D, the A·Bᵀ product; the row norms and the epilogue, O(N·M + (N+M)·D), are not counted.
/// </summary>
public class DistanceBenchmarks : OpBenchmark
{
    private Tensor _a = null!, _b = null!, _dist = null!;

    [ParamsSource(nameof(Sizes))]
    public PairSize Size { get; set; } = new(1024, 512, Targets.Both);

    /// <summary>4096×4096×512 is issue 14's row against torch.cdist.</summary>
    public static IEnumerable<PairSize> Sizes => [new(1024, 512, Targets.Both), new(4096, 512, Targets.Both)];

    /// <summary>The --smoke cases: N = 1024 only, so the GPU check's rehearsal on the CUDA emulator (which runs these
    /// kernels on the CPU, single-threaded) stays within its time limit; BenchmarkDotNet runs measure both sizes.</summary>
    public static IEnumerable<PairSize> SmokeSizes => [new(1024, 512, Targets.Both)];

    [Benchmark]
    public void SquaredL2() => LaunchAndWait(SquaredL2Launch);

    [Benchmark]
    public void Euclidean() => LaunchAndWait(EuclideanLaunch);

    [Benchmark]
    public void Angular() => LaunchAndWait(AngularLaunch);

    protected override void Allocate()
    {
        _a = Uniform(3, -1f, 1f, Size.N, Size.D);
        _b = Uniform(4, -1f, 1f, Size.N, Size.D);
        _dist = Empty(DType.Float32, Size.N, Size.N);
    }

    protected override IEnumerable<BenchOp> Launches()
    {
        var flops = Work.Flops(2.0 * Size.N * Size.N * Size.D);
        return [new(nameof(SquaredL2), flops, SquaredL2Launch), new(nameof(Euclidean), flops, EuclideanLaunch),
            new(nameof(Angular), flops, AngularLaunch)];
    }

    private void SquaredL2Launch() => Ops.PairwiseDistance(DistanceKind.SquaredEuclidean, _a, _b, _dist);

    private void EuclideanLaunch() => Ops.PairwiseDistance(DistanceKind.Euclidean, _a, _b, _dist);

    private void AngularLaunch() => Ops.PairwiseDistance(DistanceKind.Angular, _a, _b, _dist);

    /// <summary>N = M rows of D features on each side.</summary>
    public sealed record PairSize(int N, int D, Targets Targets) : IShape
    {
        public override string ToString() => $"{N}x{D}";
    }
}
