using AdvRobust.Benchmarks.Support;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
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
/// (img/s).
/// GPU only: on the CPU reference one ResNet-18 forward plus input-gradient backward at batch 8 took 0.9–1.2 s on the
/// shared 2-core machine of RESULTS.md, so one PGD-10 call at batch 128 (10 such passes at 16× the batch) would take
/// about 2.5 minutes, far too slow for BenchmarkDotNet's repeated iterations; SmallCnnBenchmarks is the CPU case.
/// The peer's TLA step (batch-hard triplet loss on the embeddings) is not here: the autograd API has no
/// differentiable row gather (F has no Gather), so the mined positives and negatives cannot carry gradients yet.
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

    protected override void Allocate()
    {
        _model = Own(ModelZoo.Create("resnet18", Backend, Classes, [3, 32, 32], _cifarMean, _cifarStd, seed: 1));
        _sgd = new Sgd(_model, learningRate: 0.1f, momentum: 0.9f, weightDecay: 5e-4f);
        _x = Uniform(5, 0f, 1f, Batch.N, 3, 32, 32);
        _labels = Labels(6, Classes, Batch.N);
        _ids = ModelSteps.Ids(Batch.N);
    }

    protected override IEnumerable<BenchOp> Launches()
    {
        var images = Work.Images(Batch.N);
        return [new(nameof(PgdAttack), images, Attack), new(nameof(AdversarialTrainStep), images, AdversarialTrain)];
    }

    private void Attack() => WithSettings(() => ModelSteps.Attack(_pgd, _model, _x, _labels, _ids));

    private void AdversarialTrain() =>
        WithSettings(() => ModelSteps.AdversarialTrainStep(_pgd, _model, _sgd, _x, _labels, _ids));

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
