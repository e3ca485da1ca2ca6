using AdvRobust.Benchmarks.Support;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// C = A·B, row-major FP32, through Ops.Gemm: cuBLAS SGEMM on cuda (TF32 off, the engine's default), the blocked
/// SGEMM of AdvRobust.Cpu/Gemm on cpu.
/// Shape letters: A is M×K, B is K×N, C is M×N.
/// FLOPs: 2·M·N·K.
/// Shapes: squares, and a conv-like one: the im2col GEMM of a 3×3 convolution with 128 input and 128 output channels
/// on 16×16 maps (ResNet-18 layer 2 on CIFAR): M = 128 output channels, K = 128·3·3 = 1152, N = batch·16·16, with
/// batch 128 on the GPU (N = 32768) and batch 8 on the CPU (N = 2048). 2048³ is GPU only: it is 8× the work of
/// 1024³, which took 45–72 ms per call in the CPU reference on the shared 2-core machine of RESULTS.md.
/// </summary>
public class GemmBenchmarks : OpBenchmark
{
    private Tensor _a = null!, _b = null!, _c = null!;

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = new("", 512, 512, 512, Targets.Both);

    public static IEnumerable<GemmShape> Shapes =>
    [
        new("", 512, 512, 512, Targets.Both),
        new("", 1024, 1024, 1024, Targets.Both),
        new("", 2048, 2048, 2048, Targets.Cuda),
        new("conv", 128, 8 * 16 * 16, 128 * 9, Targets.Cpu),
        new("conv", 128, 128 * 16 * 16, 128 * 9, Targets.Cuda),
    ];

    [Benchmark]
    public void Sgemm() => LaunchAndWait(Multiply);

    protected override void Allocate()
    {
        _a = Uniform(7, -1f, 1f, Shape.M, Shape.K);
        _b = Uniform(8, -1f, 1f, Shape.K, Shape.N);
        _c = Empty(DType.Float32, Shape.M, Shape.N);
    }

    protected override IEnumerable<BenchOp> Launches() =>
        [new(nameof(Sgemm), Work.Flops(2.0 * Shape.M * Shape.N * Shape.K), Multiply)];

    private void Multiply() => Ops.Gemm(_a, false, _b, false, _c);

    /// <summary>An M×K by K×N product, shown as "MxNxK" after its kind ("conv"), if any; at most 20 characters
    /// so that BenchmarkDotNet does not shorten it.</summary>
    public sealed record GemmShape(string Kind, int M, int N, int K, Targets Targets) : IShape
    {
        public override string ToString() => Kind.Length == 0 ? $"{M}x{N}x{K}" : $"{Kind} {M}x{N}x{K}";
    }
}
