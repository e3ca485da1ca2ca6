using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AdvRobust.Research.Training.Presets;

/// <summary>
/// How long each part of `advrobust demo` runs: the training subset and length laid over the presets
/// (configs/fashion-mnist-{pgd-at,tla}.json), the evaluation sizes and the attack strengths. Four schedules:
/// <list type="bullet">
/// <item><see cref="Full"/>: the presets as shipped (133 epochs; for a GPU).</item>
/// <item><see cref="Compressed"/>: the full schedule cut to N epochs, milestones at the same fractions of the run, full
/// evaluation; the longest run a CPU can afford.</item>
/// <item><see cref="Short"/>: under ten minutes on a 2-core CPU, both recipes on the same 32,000 images once, the
/// learning rate cosine-annealed per step (measured better than a constant one at this length: benchmarks/ACCURACY.md).</item>
/// <item><see cref="Quick"/>: seconds, a smoke test of every stage; its numbers mean nothing.</item>
/// </list>
/// </summary>
public sealed record DemoSchedule
{
    /// <summary>The l-inf and l2 budgets of the demo's training, evaluation and detection.</summary>
    public const float Eps = 0.1f, EpsL2 = 1.5f;

    public required string Name { get; init; }

    /// <summary>Training images (the first N of the seeded split); null: the whole training set.</summary>
    public int? TrainSize { get; init; }

    /// <summary>Training epochs; null: the preset's.</summary>
    public int? Epochs { get; init; }

    /// <summary>True where <see cref="Epochs"/> compresses the preset's schedule (milestones scaled) rather than
    /// replacing it with a constant learning rate.</summary>
    public bool ScaleMilestones { get; init; }

    /// <summary>Batch size for both recipes; null: each preset's own (PGD-AT 100, TLA 50).</summary>
    public int? BatchSize { get; init; }

    /// <summary>Learning rate; null: the preset's.</summary>
    public float? Lr { get; init; }

    /// <summary>The learning-rate schedule of a run with <see cref="Epochs"/> set and milestones not scaled:
    /// "constant" or "cosine" (lr down to 0 over the run, per step).</summary>
    public string LrSchedule { get; init; } = "constant";

    /// <summary>PGD steps of the training attack and of the per-epoch evaluation; null: the preset's.</summary>
    public int? TrainAttackSteps { get; init; }

    /// <summary>Held-out images for the per-epoch clean/PGD accuracy.</summary>
    public int EvalSize { get; init; }

    /// <summary>Test images of the final robust evaluation, and its PGD and APGD-CE steps.</summary>
    public int TestSamples { get; init; }
    public int PgdSteps { get; init; }
    public int ApgdSteps { get; init; }

    /// <summary>Detection: reference (training) images, test images, and the attacks' steps.</summary>
    public int ReferenceSamples { get; init; }
    public int DetectSamples { get; init; }
    public int DetectSteps { get; init; }

    public static DemoSchedule Full => new()
    {
        Name = "full", EvalSize = 1000, TestSamples = 10_000, PgdSteps = 20, ApgdSteps = 100,
        ReferenceSamples = 10_000, DetectSamples = 2000, DetectSteps = 20,
    };

    public static DemoSchedule Compressed(int epochs) =>
        epochs >= 1
            ? Full with { Name = $"full data, {epochs} epochs", Epochs = epochs, ScaleMilestones = true }
            : throw new ArgumentException($"--epochs must be at least 1, got {epochs}");

    public static DemoSchedule Short => new()
    {
        Name = "short", TrainSize = 32_000, Epochs = 1, BatchSize = 50, Lr = 0.05f, LrSchedule = "cosine", EvalSize = 300, TestSamples = 500,
        PgdSteps = 20, ApgdSteps = 20, ReferenceSamples = 2000, DetectSamples = 300, DetectSteps = 10,
    };

    public static DemoSchedule Quick => new()
    {
        Name = "quick", TrainSize = 200, Epochs = 1, BatchSize = 50, Lr = 0.05f, TrainAttackSteps = 2, EvalSize = 50,
        TestSamples = 40, PgdSteps = 2, ApgdSteps = 2, ReferenceSamples = 200, DetectSamples = 30, DetectSteps = 2,
    };

    /// <summary>The preset of <paramref name="recipe"/> ("pgd-at" or "tla") with this schedule laid over it, as
    /// <c>--set</c> overrides would be, then milestones compressed and attack steps cut where the schedule says.</summary>
    public TrainConfig Config(string recipe, ulong seed, string device)
    {
        var overrides = new List<string>
        {
            $"seed={seed}", $"device={device}", $"data.evalSize={EvalSize}", "data.evalSplit=holdout",
        };
        // Short schedules give both recipes the same batches (the presets' PGD-AT batch is 100, TLA's 50).
        if (BatchSize is int b) overrides.Add($"batchSize={b}");
        if (TrainSize is int n) overrides.Add($"data.trainSize={n}");
        if (Epochs is int e && !ScaleMilestones)
        {
            // A short run replaces the preset's step schedule (its milestones lie past the end).
            overrides.Add($"epochs={e}");
            overrides.Add($"optimizer.schedule.kind={LrSchedule}");
        }
        if (Lr is float lr) overrides.Add($"optimizer.lr={lr.ToString(CultureInfo.InvariantCulture)}");
        if (TrainAttackSteps is int k) overrides.Add($"evaluation.steps={k}");
        var config = Presets.Load($"fashion-mnist-{recipe}.json", overrides);
        if (ScaleMilestones && Epochs is int epochs) config = Compress(config, epochs);
        if (TrainAttackSteps is int steps)
            config = config with { Objective = config.Objective with { Settings = WithSteps(config.Objective, steps) } };
        return config;
    }

    /// <summary>
    /// The preset cut to <paramref name="epochs"/> epochs with each step milestone at the same fraction of the run,
    /// rounded to the nearest epoch, and any warm-up scaled alike (133 epochs with milestones 83, 108 become 5 with
    /// milestones 3, 4).
    /// </summary>
    public static TrainConfig Compress(TrainConfig preset, int epochs)
    {
        var schedule = preset.Optimizer.Schedule;
        int[] milestones = schedule.Milestones
            .Select(m => (int)Math.Round((double)m * epochs / preset.Epochs, MidpointRounding.AwayFromZero)).ToArray();
        float warmup = schedule.WarmupEpochs * epochs / preset.Epochs;
        return preset with
        {
            Epochs = epochs,
            Optimizer = preset.Optimizer with
            {
                Schedule = schedule with { Milestones = milestones, WarmupEpochs = warmup },
            },
        };
    }

    /// <summary>The objective's settings with fewer attack steps (the quick schedule), step size 2.5·eps/steps.</summary>
    private static JsonElement WithSteps(ObjectiveConfig objective, int steps)
    {
        var node = JsonNode.Parse(objective.Settings?.GetRawText() ?? "{}")!.AsObject();
        float eps = node["eps"]?.GetValue<float>() ?? Eps;
        node["steps"] = steps;
        node["stepSize"] = 2.5f * eps / steps;
        return JsonDocument.Parse(node.ToJsonString()).RootElement.Clone();
    }
}
