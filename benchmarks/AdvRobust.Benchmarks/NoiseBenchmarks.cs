using AdvRobust.Benchmarks.Support;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// Gaussian noise y = x + σ·N(0,1) (kernels/noise.cu, CpuBackend.Noise.cs): Replicate turns one image into N noisy
/// copies (randomized-smoothing certification, Cohen's batch of 1000 Fashion-MNIST copies), Batch noises N different
/// images (noise augmentation of a CIFAR training batch). Shape letters: N images of C×H×W.
/// Traffic (noise.cu header): reads 1 float and writes 1 = 8 B per element; the replicated row is one C·H·W image
/// served from cache, so Replicate's DRAM traffic is nearer 4 B. Each element also costs one Philox4x32-10 block and a
/// logf, cosf and sqrtf, so on the CPU this is compute-bound.
/// </summary>
public class NoiseBenchmarks : OpBenchmark
{
    public const long BytesPerElement = 8;

    private Tensor _image = null!, _batch = null!, _y = null!;

    [ParamsSource(nameof(Shapes))]
    public NoiseShape Shape { get; set; } = new(1000, 1, 28, 28);

    public static IEnumerable<NoiseShape> Shapes => [new(1000, 1, 28, 28), new(128, 3, 32, 32)];

    [Benchmark]
    public void Replicate() => LaunchAndWait(NoiseReplicate);

    [Benchmark]
    public void Batch() => LaunchAndWait(NoiseBatch);

    protected override void Allocate()
    {
        _image = Uniform(1, 0f, 1f, 1, Shape.C, Shape.H, Shape.W);
        _batch = Uniform(2, 0f, 1f, Shape.N, Shape.C, Shape.H, Shape.W);
        _y = Empty(DType.Float32, Shape.N, Shape.C, Shape.H, Shape.W);
    }

    protected override IEnumerable<BenchOp> Launches()
    {
        var traffic = Work.Bytes(BytesPerElement * Shape.Elements);
        return [new(nameof(Replicate), traffic, NoiseReplicate), new(nameof(Batch), traffic, NoiseBatch)];
    }

    private void NoiseReplicate() => Ops.GaussianNoise(_image, _y, 0.25f, seed: 7, stream: 3, firstSample: 100);

    private void NoiseBatch() => Ops.GaussianNoise(_batch, _y, 0.25f, seed: 7, stream: 3, firstSample: 100);

    /// <summary>N images of C×H×W floats.</summary>
    public sealed record NoiseShape(int N, int C, int H, int W) : IShape
    {
        public long Elements => (long)N * C * H * W;
        public Targets Targets => Targets.Both;
        public override string ToString() => $"{N}x{C}x{H}x{W}";
    }
}
