using AdvRobust.Benchmarks.Support;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// The small MNIST CNN of Madry et al. ("small-cnn": conv 5×5 32, pool, conv 5×5 64, pool, fc 3136→1024, fc 1024→10)
/// on 1×28×28 images, the workloads of /work/shared/bench/torch_peer_cpu.py at the same batch:
/// PgdAttack: PGD-10 l-inf, eps 0.1, alpha 0.01, random start, CE, parameters constant (an attack-mode tape);
/// TrainStep: standard SGD step (lr 0.01, momentum 0.9), mean CE; AdversarialTrainStep: PGD-10 in eval mode, then the
/// train step on the adversarial batch. See <see cref="ModelSteps"/> for how the engine's PGD differs from the peer's.
/// Normalization is the identity (mean 0, std 1), as the peer has none. Work: images per call (the Throughput column
/// shows img/s). Both devices run batch 256, as the peer does (--smoke runs batch 32).
/// </summary>
public class SmallCnnBenchmarks : OpBenchmark
{
    public const int Classes = 10;

    private readonly Pgd _pgd = ModelSteps.LinfPgd(eps: 0.1f, alpha: 0.01f, steps: 10);
    private ImageClassifier _model = null!;
    private Sgd _sgd = null!;
    private Tensor _x = null!, _labels = null!;
    private uint[] _ids = [];

    [ParamsSource(nameof(Batches))]
    public MnistBatch Batch { get; set; } = new(256);

    public static IEnumerable<MnistBatch> Batches => [new(256)];

    /// <summary>The --smoke case: batch 256 takes seconds per call on the CPU, so the check runs batch 32.</summary>
    public static IEnumerable<MnistBatch> SmokeBatches => [new(32)];

    [Benchmark]
    public void PgdAttack() => LaunchAndWait(Attack);

    [Benchmark]
    public void TrainStep() => LaunchAndWait(Train);

    [Benchmark]
    public void AdversarialTrainStep() => LaunchAndWait(AdversarialTrain);

    protected override void Allocate()
    {
        _model = Own(ModelZoo.Create("small-cnn", Backend, Classes, [1, 28, 28], [0f], [1f], seed: 1));
        _sgd = new Sgd(_model, learningRate: 0.01f, momentum: 0.9f);
        _x = Uniform(3, 0f, 1f, Batch.N, 1, 28, 28);
        _labels = Labels(4, Classes, Batch.N);
        _ids = ModelSteps.Ids(Batch.N);
    }

    protected override IEnumerable<BenchOp> Launches()
    {
        var images = Work.Images(Batch.N);
        return
        [
            new(nameof(PgdAttack), images, Attack),
            new(nameof(TrainStep), images, Train),
            new(nameof(AdversarialTrainStep), images, AdversarialTrain),
        ];
    }

    private void Attack() => ModelSteps.Attack(_pgd, _model, _x, _labels, _ids);

    private void Train() => ModelSteps.TrainStep(_model, _sgd, _x, _labels);

    private void AdversarialTrain() => ModelSteps.AdversarialTrainStep(_pgd, _model, _sgd, _x, _labels, _ids);

    /// <summary>N MNIST-sized images, 1×28×28.</summary>
    public sealed record MnistBatch(int N) : IShape
    {
        public Targets Targets => Targets.Both;
        public override string ToString() => $"{N}x1x28x28";
    }
}
