using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;

namespace AdvRobust.Tests.Budgets;

/// <summary>The steps whose cost the budgets bound (issue 13), each on ResNet-18: one step of a PGD-10 attack (the
/// update, then the forward and backward pass and the device bookkeeping at the new point), one PGD-AT training step
/// and one TLA training step (the trainer's step after the batch upload: objective on the device, then SGD), and one
/// query of a Square attack (candidates, a forward pass, the acceptance).</summary>
public enum BudgetStep { Pgd10Step, PgdAtStep, TlaStep, SquareQuery }

/// <summary>
/// ResNet-18 in its real topology (4 stages of 2 basic blocks, the CIFAR stem) at width 4 on 3×16×16 images, batch 4,
/// 10 classes, so a step takes well under a second on the CPU and seconds on the CUDA emulator. Launch, sync and copy
/// counts per step do not depend on width or image size (every layer is one op per pass at any size); bytes do.
/// The attack is the benchmarks' PGD (l-inf, 8/255, 2/255, 10 steps, random start, CE, KeepHighestLoss so every step
/// runs); the training steps use the same attack, as <see cref="PgdAtObjective"/> and <see cref="TlaObjective"/>
/// with ε = 8/255, 10 steps of 2/255, SGD (lr 0.01, momentum 0.9). The batch lives on the backend before the step
/// starts (uploading it is the loader's job, outside the step). A training step is what Trainer.TrainStep and the
/// update after it run once the batch is up (no augmentation, the config's default): ZeroGrad, the objective's
/// <see cref="IDeviceStatsObjective.StepOnDevice"/>, SGD; the statistics stay on the device and are read every
/// <see cref="StatsEvery"/> steps, between the objective and the update, as the trainer reads them. The Square attack
/// (l-inf, 8/255, <see cref="SquareQueries"/> queries, one early-stop read before the first) attacks the batch labelled
/// with the model's own predictions, so every sample is attacked.
/// </summary>
public sealed class BudgetWorkload : IDisposable
{
    public const int Batch = 4, Classes = 10, Width = 4, Side = 16, TrainSetSize = 40, StatsEvery = 3,
        SquareQueries = 8;

    private readonly IBackend _backend;
    private readonly ImageClassifier _model;
    private readonly Sgd _sgd;
    private readonly LabeledImages _trainSet;
    private readonly Tensor _x, _labels;
    private readonly uint[] _ids;
    private readonly int[] _hostLabels;
    private readonly List<PendingStats> _pending = [];
    private readonly Pgd _pgd;
    private readonly Square _square;
    private readonly ITrainingObjective _at, _tla;
    private long _step;

    public BudgetWorkload(IBackend backend)
    {
        _backend = backend;
        int[] shape = [3, Side, Side];
        _model = new ResNet18(new ParameterInit(backend, 1), Classes, shape, [0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f],
            Width);
        _sgd = new Sgd(_model, learningRate: 0.01f, momentum: 0.9f);
        var rng = new System.Random(13);
        int d = 3 * Side * Side;
        var pixels = new float[TrainSetSize * d];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = rng.NextSingle();
        var labels = Enumerable.Range(0, TrainSetSize).Select(i => i % Classes).ToArray();
        _trainSet = new LabeledImages(TrainSetSize, 3, Side, Side, pixels, labels, Classes, "budget test set");
        _x = Tensor.FromArray(backend, pixels.AsSpan(0, Batch * d), Batch, 3, Side, Side);
        _hostLabels = labels[..Batch];
        _labels = Tensor.FromArray(backend, _hostLabels, Batch);
        _ids = Enumerable.Range(0, Batch).Select(i => (uint)i).ToArray();
        const float eps = 8f / 255, alpha = 2f / 255;
        _pgd = new Pgd(new PgdSettings(PgdNorm.Linf, eps, alpha, 10, RandomStart: true,
            Loss: AttackLossKind.CrossEntropy, KeepHighestLoss: true, Seed: 1));
        _square = new Square(new SquareSettings(eps, Queries: SquareQueries, Seed: 1,
            StopCheckEvery: SquareQueries + 1));
        _at = new PgdAtObjective(new PgdAtSettings { Eps = eps, StepSize = alpha, Steps = 10 });
        _tla = new TlaObjective(new TlaSettings { Eps = eps, StepSize = alpha, Steps = 10 },
            new ObjectiveContext(_trainSet, 1));
    }

    public ImageClassifier Model => _model;

    /// <summary>A whole PGD-10 attack on the batch, reporting after each step (the attack's own progress reports,
    /// which delimit its steps); the adversarial batch is returned (host copy) only when
    /// <paramref name="keepAdversarial"/>, since reading it back is itself a copy.</summary>
    public float[]? Attack(bool keepAdversarial = false, IProgress<AttackProgress>? progress = null)
    {
        using var result = _pgd.Run(_model, _x, _labels, _ids, progress: progress);
        return keepAdversarial ? result.Adversarial.ToArray() : null;
    }

    /// <summary>A whole Square attack on the batch labelled with the model's predictions, reporting after each query.
    /// </summary>
    public void Square(IProgress<AttackProgress>? progress = null)
    {
        _model.Eval();
        int[] predicted = Predictions.Argmax(Predictions.Logits(_model, _x, out int k), k);
        using var labels = Tensor.FromArray(_backend, predicted, Batch);
        using var result = _square.Run(_model, _x, labels, _ids, progress: progress);
    }

    /// <summary>The next training step of <paramref name="kind"/>; true when it read the queued statistics (every
    /// <see cref="StatsEvery"/>-th step), which a step that is measured must not.</summary>
    public bool Train(BudgetStep kind)
    {
        var objective = kind switch
        {
            BudgetStep.PgdAtStep => _at,
            BudgetStep.TlaStep => _tla,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a training step"),
        };
        var batch = new TrainingBatch(_x, _labels, _ids, 0, _step++, 1) { HostLabels = _hostLabels };
        _sgd.ZeroGrad();
        _pending.Add(((IDeviceStatsObjective)objective).StepOnDevice(_model, batch));
        bool read = _pending.Count == StatsEvery;
        if (read) ReadPending();
        _sgd.Step();
        return read;
    }

    private void ReadPending()
    {
        foreach (var stats in _pending)
            using (stats)
                Assert.That(double.IsFinite(stats.Read().Loss), Is.True, "training loss");
        _pending.Clear();
    }

    public void Dispose()
    {
        foreach (var stats in _pending) stats.Dispose();
        _at.Dispose();
        _tla.Dispose();
        _x.Dispose();
        _labels.Dispose();
        _model.Dispose();
        _backend.Synchronize();
    }
}
