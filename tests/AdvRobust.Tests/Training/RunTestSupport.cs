using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Research.Training;

namespace AdvRobust.Tests.Training;

/// <summary>
/// A tiny classifier for the trainer tests, small enough that a 3-epoch run takes milliseconds but with everything
/// a resume must restore: conv 3×3 (1→4, pad 1) → batch norm (parameters and running-statistic buffers) →
/// ReLU → max-pool 2 → linear to the classes. Embedding = the flattened pooled features.
/// </summary>
public sealed class RunTestModel : ImageClassifier
{
    private readonly Conv2d _conv;
    private readonly BatchNorm2d _bn;
    private readonly Linear _fc;

    public RunTestModel(IBackend backend, ulong seed, int classes, int size)
        : this(new ParameterInit(backend, seed), classes, size)
    {
    }

    private RunTestModel(ParameterInit init, int classes, int size)
        : base(init, classes, [1, size, size], [0.5f], [0.25f])
    {
        _conv = RegisterModule("conv", new Conv2d(init, 1, 4, 3, padding: 1));
        _bn = RegisterModule("bn", new BatchNorm2d(init, 4));
        _fc = RegisterModule("fc", new Linear(init, 4 * (size / 2) * (size / 2), classes));
        EmbeddingDim = 4 * (size / 2) * (size / 2);
    }

    public override int EmbeddingDim { get; }

    protected override ModelOutput ForwardNormalized(Tape tape, Variable x)
    {
        var h = F.Relu(tape, _bn.Forward(tape, _conv.Forward(tape, x)));
        var embedding = F.Flatten(tape, F.Pool2d(tape, h, new PoolParams(PoolKind.Max, 2, 2)));
        return new ModelOutput(_fc.Forward(tape, embedding), embedding);
    }
}

/// <summary>Settings of <see cref="RunTestObjective"/>, recorded in the manifest like a real objective's.</summary>
public sealed record RunTestObjectiveSettings(float LabelSmoothing, long NanAtStep);

/// <summary>
/// Plain mean cross-entropy on the batch, the test stand-in for the real objectives (which live on another branch):
/// it reports the loss as "ce" plus a constant "const" component, so component averaging is visible. With
/// <c>NanAtStep</c> ≥ 0 the loss it reports at that global step is NaN.
/// </summary>
public sealed class RunTestObjective(RunTestObjectiveSettings settings) : ITrainingObjective
{
    public RunTestObjective() : this(new RunTestObjectiveSettings(0f, -1))
    {
    }

    public string Name => "test-ce";
    public object Settings => settings;
    public int Steps { get; private set; }

    public StepStats Step(ImageClassifier model, TrainingBatch batch)
    {
        Steps++;
        using var tape = new Tape(batch.X.Backend);
        var logits = model.Forward(tape, tape.Constant(batch.X)).Logits;
        var loss = F.Mean(tape, F.CrossEntropy(tape, logits, batch.Labels, settings.LabelSmoothing));
        tape.Backward(loss);
        double value = batch.Step == settings.NanAtStep ? double.NaN : loss.Value.ToArray()[0];
        float[] z = logits.Value.ToArray();
        int[] y = batch.Labels.ToArray<int>();
        int k = model.Classes, correct = 0;
        for (int i = 0; i < y.Length; i++)
        {
            int best = 0;
            for (int j = 1; j < k; j++) if (z[i * k + j] > z[i * k + best]) best = j;
            if (best == y[i]) correct++;
        }
        var components = new Dictionary<string, double> { ["ce"] = value, ["const"] = 1.0 };
        return new StepStats(value, components, correct, y.Length);
    }

    public void Dispose()
    {
    }
}

/// <summary>Synthetic, learnable images: class k lights up a k-dependent block of an S×S image, plus noise.</summary>
public static class RunTestData
{
    public const int Size = 8, Classes = 4;

    public static LabeledImages Images(int n, int seed, string source)
    {
        var rng = new System.Random(seed);
        var pixels = new float[n * Size * Size];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int c = labels[i] = i % Classes;
            for (int r = 0; r < Size; r++)
            for (int col = 0; col < Size; col++)
            {
                bool lit = r / (Size / 2) == c / 2 && col / (Size / 2) == c % 2;
                float noise = 0.3f * (float)(rng.NextDouble() - 0.5);
                pixels[(i * Size + r) * Size + col] = Math.Clamp((lit ? 0.7f : 0.2f) + noise, 0f, 1f);
            }
        }
        return new LabeledImages(n, 1, Size, Size, pixels, labels, Classes, source);
    }

    /// <summary>48 training and 16 test images.</summary>
    public static (LabeledImages Train, LabeledImages Test) Splits() =>
        (Images(48, 1, "synthetic-train"), Images(16, 2, "synthetic-test"));

    /// <summary>A 3-epoch config on the synthetic data: 6 steps of 8 per epoch, augmentation on, a step schedule
    /// with warm-up, a 2-step PGD evaluation of 16 images.</summary>
    public const string ConfigJson = """
    {
      "_comment": "tiny trainer test run",
      "seed": 7,
      "epochs": 3,
      "batchSize": 8,
      "data": { "name": "synthetic", "evalSize": 16, "evalSplit": "test" },
      "model": { "arch": "run-test" },
      "objective": { "kind": "test-ce" },
      "optimizer": { "lr": 0.1, "momentum": 0.9, "weightDecay": 0.0005,
                     "schedule": { "kind": "step", "milestones": [2], "gamma": 0.5, "warmupEpochs": 0.5 } },
      "augmentation": { "cropPad": 1, "flip": true },
      "evaluation": { "eps": 0.1, "steps": 2, "stepSize": 0.05, "batchSize": 16 }
    }
    """;

    public static TrainConfig Config(params string[] overrides) =>
        TrainConfig.Parse(ConfigJson, "test config", overrides);

    /// <summary>Runs <paramref name="config"/> in <paramref name="dir"/> (new or resumed) on the CPU and returns the
    /// result and the trained model's weights and buffers; <paramref name="notices"/> collects the trainer's
    /// notices.</summary>
    public static (TrainResult Result, Dictionary<string, float[]> State) Run(TrainConfig config, string dir,
        bool resume = false, Func<ObjectiveContext, ITrainingObjective>? objective = null,
        Action<TrainProgress, CancellationTokenSource>? onProgress = null,
        Func<TrainingData, TrainingData>? withData = null, List<string>? notices = null)
    {
        var (train, test) = Splits();
        var data = TrainingData.From(config.Data, train, test);
        if (withData is not null) data = withData(data);
        using var model = new RunTestModel(Support.Backends.Cpu, config.Seed, Classes, Size);
        var run = resume ? RunDirectory.Open(dir) : RunDirectory.Create(dir);
        using var trainer = new Trainer(config, model, data, objective ?? (_ => new RunTestObjective()), run);
        if (notices is not null) trainer.Notice = notices.Add;
        using var cts = new CancellationTokenSource();
        var progress = onProgress is null ? null : new SyncProgress<TrainProgress>(p => onProgress(p, cts));
        var env = RunEnvironment.Capture("test", Support.Backends.Cpu, deterministic: false, tf32: false);
        var result = trainer.Run(env, progress, cts.Token);
        var state = AdvRobust.Core.Checkpoints.Checkpoint.State(model)
            .ToDictionary(s => s.Name, s => s.Tensor.ToArray());
        return (result, state);
    }
}
