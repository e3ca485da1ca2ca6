using AdvRobust.Benchmarks.Support;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Core.Data;
using AdvRobust.Cuda;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// CIFAR ResNet-18 ("resnet18", 3×32×32, 10 classes) attacked and adversarially trained, the fp32 workloads of
/// /work/shared/bench/torch_peer_gpu.py: PgdAttack = PGD-10 l-inf, eps 8/255, alpha 2/255, random start, CE, model
/// in eval mode, parameters constant; AdversarialTrainStep = that attack, then a train-mode forward/backward and SGD
/// (lr 0.1, momentum 0.9, weight decay 5e-4). Batch 128 and 512, as the peer runs both. Tf32 = false is FP32 math
/// throughout (the engine's default); Tf32 = true lets cuDNN convolutions and cuBLAS GEMMs use TF32 tensor cores
/// (CudaContext.AllowTf32, set on the shared backend around each call and restored after it, so the other classes
/// keep their FP32 default). Graphs = true runs each PGD run's steps as a replayed CUDA graph (StepGraph: the first
/// step eager, the second captured, the rest replayed), Graphs = false launches every kernel from the host
/// (as ADVROBUST_CUDA_GRAPHS=0 does); both rows are reported, set around each call like Tf32. Work: images per call
/// (img/s). TrainerAdversarialStep is the trainer's own PGD-AT step (TrainStepGraph: the batch and per-step keys
/// uploaded, then the step and the SGD update, each one replayed CUDA graph with Graphs = true), with the same attack
/// settings; unlike AdversarialTrainStep its whole step (attack, forward, backward, update) replays, not only the PGD.
/// GPU only: on the CPU reference one ResNet-18 forward plus input-gradient backward at batch 8 took 0.9–1.2 s on the
/// shared 2-core machine of RESULTS.md, so one PGD-10 call at batch 128 (10 such passes at 16× the batch) would take
/// about 2.5 minutes, far too slow for BenchmarkDotNet's repeated iterations; SmallCnnBenchmarks is the CPU case.
/// TrainerTlaStep is the trainer's TLA step (Mao et al. 2019, the engine's TLA objective: PGD-10 toward the false class,
/// cross-entropy + 0.5 · triplet on the penultimate embeddings with mined hardest negatives from a pool the size of the
/// batch, + 1e-4 · embedding norm) through the same TrainStepGraph; the peer's TLA step is a simpler batch-hard form,
/// so that row compares like-sized work, not identical math.
/// </summary>
public class ResNetAttackBenchmarks : OpBenchmark
{
    public const int Classes = 10;
    private static readonly float[] _cifarMean = [0.4914f, 0.4822f, 0.4465f];
    private static readonly float[] _cifarStd = [0.2470f, 0.2435f, 0.2616f];

    private readonly Pgd _pgd = ModelSteps.LinfPgd(eps: 8f / 255, alpha: 2f / 255, steps: 10);
    private ImageClassifier _model = null!;
    private Sgd _sgd = null!;
    private Tensor _x = null!, _labels = null!;
    private uint[] _ids = [];
    private TrainStepGraph _trainerStep = null!, _trainerTla = null!;
    private ImageBatch _batch = null!;
    private long _step;

    [ParamsSource(nameof(Batches))]
    public CifarBatch Batch { get; set; } = new(128);

    public static IEnumerable<CifarBatch> Batches => [new(128), new(512)];

    [Params(false, true)]
    public bool Tf32 { get; set; }

    [Params(true, false)]
    public bool Graphs { get; set; }

    [Benchmark]
    public void PgdAttack() => LaunchAndWait(Attack);

    [Benchmark]
    public void AdversarialTrainStep() => LaunchAndWait(AdversarialTrain);

    [Benchmark]
    public void TrainerAdversarialStep() => LaunchAndWait(TrainerAdversarial);

    [Benchmark]
    public void TrainerTlaStep() => LaunchAndWait(TrainerTla);

    protected override void Allocate()
    {
        _model = Own(ModelZoo.Create("resnet18", Backend, Classes, [3, 32, 32], _cifarMean, _cifarStd, seed: 1));
        _sgd = new Sgd(_model, learningRate: 0.1f, momentum: 0.9f, weightDecay: 5e-4f);
        _x = Uniform(5, 0f, 1f, Batch.N, 3, 32, 32);
        _labels = Labels(6, Classes, Batch.N);
        _ids = ModelSteps.Ids(Batch.N);
        (_trainerStep, _trainerTla, _batch) = TrainerSteps(Batch.N);
    }

    /// <summary>The trainer's PGD-AT and TLA steps on N random CIFAR-shaped images (no augmentation), eps 8/255,
    /// alpha 2/255, 10 steps, random start: the attack of PgdAttack.</summary>
    private (TrainStepGraph, TrainStepGraph, ImageBatch) TrainerSteps(int n)
    {
        var random = new Random(7);
        float[] pixels = new float[n * 3 * 32 * 32];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = random.NextSingle();
        int[] labels = Enumerable.Range(0, n).Select(i => i % Classes).ToArray();
        var train = new LabeledImages(n, 3, 32, 32, pixels, labels, Classes, "benchmark");
        var config = new TrainConfig { Seed = 1, BatchSize = n };
        var objective = new PgdAtObjective(new PgdAtSettings { Eps = 8f / 255, StepSize = 2f / 255, Steps = 10 });
        var tla = Own(new TlaObjective(new TlaSettings { Eps = 8f / 255, StepSize = 2f / 255, Steps = 10 },
            new ObjectiveContext(train, config.Seed)));
        return (Own(new TrainStepGraph(_model, _sgd, objective, config, train, report: null)),
            Own(new TrainStepGraph(_model, _sgd, tla, config, train, report: null)),
            new ImageBatch(pixels, labels, Enumerable.Range(0, n).ToArray()));
    }

    protected override IEnumerable<BenchOp> Launches()
    {
        var images = Work.Images(Batch.N);
        return [new(nameof(PgdAttack), images, Attack), new(nameof(AdversarialTrainStep), images, AdversarialTrain),
            new(nameof(TrainerAdversarialStep), images, TrainerAdversarial), new(nameof(TrainerTlaStep), images, TrainerTla)];
    }

    private void Attack() => WithSettings(() => ModelSteps.Attack(_pgd, _model, _x, _labels, _ids));

    private void AdversarialTrain() =>
        WithSettings(() => ModelSteps.AdversarialTrainStep(_pgd, _model, _sgd, _x, _labels, _ids));

    private void TrainerAdversarial() => TrainerStep(_trainerStep);

    private void TrainerTla() => TrainerStep(_trainerTla);

    private void TrainerStep(TrainStepGraph graphed) => WithSettings(() =>
    {
        _model.Train();
        graphed.Step(_batch, null, epoch: 0, index: 0, _step++, slot: 0);
        graphed.Update();
    });

    private void WithSettings(Action run)
    {
        var cuda = (CudaBackend)Backend;
        bool tf32 = cuda.Context.AllowTf32, graphs = cuda.Graphs.Enabled;
        cuda.Context.AllowTf32 = Tf32;
        cuda.Graphs.Enabled = Graphs && graphs;  // ADVROBUST_CUDA_GRAPHS=0 turns both rows eager
        try { run(); }
        finally
        {
            cuda.Context.AllowTf32 = tf32;
            cuda.Graphs.Enabled = graphs;
        }
    }

    /// <summary>N CIFAR images, 3×32×32; GPU only.</summary>
    public sealed record CifarBatch(int N) : IShape
    {
        public Targets Targets => Targets.Cuda;
        public override string ToString() => $"{N}x3x32x32";
    }
}
