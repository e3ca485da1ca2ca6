using AdvRobust.Benchmarks.Support;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// CIFAR ResNet-18 ("resnet18", 3×32×32, 10 classes, CIFAR normalization as its first layer) in eval mode: one
/// forward pass and the backward pass to the input gradient of the summed cross-entropy, parameters constant — one
/// attack step without the update (<see cref="ModelSteps.InputGradient"/>). The CPU rows of `build.ps1 bench --peer`
/// (issue 14), beside the same model in PyTorch (benchmarks/peer/torch_peer_extra.py). Batch 8 and 32 on both devices:
/// a whole PGD-10 at batch 128 is <see cref="ResNetAttackBenchmarks"/>' GPU case and far too slow for the CPU.
/// Work: images per call (img/s).
/// </summary>
public class ResNetGradientBenchmarks : OpBenchmark
{
    public const int Classes = 10;
    private static readonly float[] _cifarMean = [0.4914f, 0.4822f, 0.4465f];
    private static readonly float[] _cifarStd = [0.2470f, 0.2435f, 0.2616f];

    private ImageClassifier _model = null!;
    private Tensor _x = null!, _labels = null!;

    [ParamsSource(nameof(Batches))]
    public CifarImages Batch { get; set; } = new(8);

    public static IEnumerable<CifarImages> Batches => [new(8), new(32)];

    /// <summary>The --smoke case: batch 8 only.</summary>
    public static IEnumerable<CifarImages> SmokeBatches => [new(8)];

    [Benchmark]
    public void ForwardInputGradient() => LaunchAndWait(Step);

    protected override void Allocate()
    {
        _model = Own(ModelZoo.Create("resnet18", Backend, Classes, [3, 32, 32], _cifarMean, _cifarStd, seed: 1));
        _x = Uniform(5, 0f, 1f, Batch.N, 3, 32, 32);
        _labels = Labels(6, Classes, Batch.N);
    }

    protected override IEnumerable<BenchOp> Launches() =>
        [new(nameof(ForwardInputGradient), Work.Images(Batch.N), Step)];

    private void Step() => ModelSteps.InputGradient(_model, _x, _labels);

    /// <summary>N CIFAR images, 3×32×32, on both devices.</summary>
    public sealed record CifarImages(int N) : IShape
    {
        public Targets Targets => Targets.Both;
        public override string ToString() => $"{N}x3x32x32";
    }
}
