using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace AdvRobust.Research.Training;

/// <summary>
/// Everything a training run needs to be repeated: a JSON file (camelCase keys, e.g. configs/*.json), optionally
/// changed by <c>--set key.path=value</c> overrides, checked against this schema, and written back in full into the
/// run's manifest. Keys starting with "_" are comments at any level; an unknown key or a value of the wrong type is an
/// error that names the key (<see cref="ConfigSchema"/>). Epoch numbers in the config (milestones, warm-up) are
/// absolute epochs of the run; the trainer converts them to optimizer iterations.
/// </summary>
public sealed record TrainConfig
{
    /// <summary>Keys every Philox draw of the run: initialization, data order, augmentation, the objective's attacks
    /// and the evaluation PGD's random start.</summary>
    public ulong Seed { get; init; }

    /// <summary>"cpu" or "cuda" (the CLI's --device overrides it).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>CUDA only: restrict cuDNN to deterministic convolution algorithms (see the train command).</summary>
    public bool Deterministic { get; init; }

    /// <summary>CUDA only: allow TF32 tensor cores in cuBLAS and cuDNN.</summary>
    public bool Tf32 { get; init; }

    /// <summary>Under mpirun: batch norm normalizes with the statistics of the global batch, all-reduced over the
    /// ranks (synchronized batch norm; the train command's --sync-batch-norm), instead of each rank's shard's. A
    /// single process already sees the whole batch, so it trains the same either way.</summary>
    public bool SyncBatchNorm { get; init; }

    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 128;

    /// <summary>Write last.safetensors and the resume state every this many epochs (and after the last epoch, and
    /// when stopped). best.safetensors is written whenever the PGD accuracy improves.</summary>
    public int CheckpointEvery { get; init; } = 1;

    /// <summary>Read the training statistics every this many steps (and at each epoch's end): a built-in objective's
    /// steps leave them on the device, so with k &gt; 1 the host waits for the device once per k steps instead of
    /// after each. The metrics are the same for every k; only the progress reports (and a divergence) come in groups
    /// of k. See <see cref="Trainer.StatsEvery"/>.</summary>
    public int StatsEvery { get; init; } = 1;

    public DataConfig Data { get; init; } = new();
    public ModelConfig Model { get; init; } = new();
    public ObjectiveConfig Objective { get; init; } = new();
    public OptimizerConfig Optimizer { get; init; } = new();
    public AugmentationConfig Augmentation { get; init; } = new();
    public EvaluationConfig Evaluation { get; init; } = new();

    /// <summary>Reads <paramref name="path"/>, applies <paramref name="overrides"/> ("key.path=value") in order, and
    /// validates the result. Errors name the file and the key.</summary>
    public static TrainConfig Load(string path, IReadOnlyList<string>? overrides = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file '{path}' does not exist", path);
        return Parse(File.ReadAllText(path), path, overrides);
    }

    /// <summary>As <see cref="Load"/>, from JSON text; <paramref name="source"/> names it in messages.</summary>
    public static TrainConfig Parse(string json, string source, IReadOnlyList<string>? overrides = null)
    {
        DuplicateKeys.Check(json, source);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON: {e.Message}", e);
        }
        if (node is not JsonObject root)
            throw new InvalidDataException(
                $"{source}: a config is a JSON object, got {node?.GetValueKind().ToString() ?? "null"}");
        return ConfigSchema.Resolve(root, source, overrides ?? []);
    }

    /// <summary>The config as indented JSON (what the manifest holds).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ConfigSchema.Options);

    /// <summary>Checks every value against its allowed range and throws one <see cref="ArgumentException"/> that
    /// lists every problem, each with its key.</summary>
    public void Validate(string source)
    {
        var errors = new List<string>();
        void Check(bool ok, string key, string message)
        {
            if (!ok) errors.Add($"'{key}' {message}");
        }
        Check(Device is "cpu" or "cuda", "device", $"must be cpu or cuda, got '{Device}'");
        Check(Epochs >= 1, "epochs", $"must be at least 1, got {Epochs}");
        Check(BatchSize >= 1, "batchSize", $"must be at least 1, got {BatchSize}");
        Check(CheckpointEvery >= 1, "checkpointEvery", $"must be at least 1, got {CheckpointEvery}");
        Check(StatsEvery >= 1, "statsEvery", $"must be at least 1, got {StatsEvery}");
        Data.Validate(Check);
        Model.Validate(Check);
        Objective.Validate(Check);
        Optimizer.Validate(Check, Epochs);
        Augmentation.Validate(Check);
        Evaluation.Validate(Check);
        if (errors.Count > 0) throw new ArgumentException($"{source}: {string.Join("; ", errors)}");
    }
}

/// <summary>Reports a failed check: (condition, key path, message).</summary>
public delegate void ConfigCheck(bool ok, string key, string message);

/// <summary>
/// The data: a named set ("fashion-mnist", "mnist", "cifar10") looked up in <see cref="Dir"/> (or the default
/// places), or a folder holding one. Training uses the first <see cref="TrainSize"/> training images (all when null).
/// Evaluation uses a FIXED subset, the same every epoch: the first <see cref="EvalSize"/> test images
/// (<c>evalSplit: "test"</c>), or the last <see cref="EvalSize"/> training images, which are then left out of training
/// (<c>"holdout"</c>: choosing the best checkpoint on held-out data rather than on the test set, as papers.md §1.4
/// recommends).
/// </summary>
public sealed record DataConfig
{
    public string Name { get; init; } = "fashion-mnist";
    public string? Dir { get; init; }
    public int? TrainSize { get; init; }
    public int EvalSize { get; init; } = 1000;
    public string EvalSplit { get; init; } = "test";

    /// <summary>Skip an epoch's short last batch (a batch of one would break batch norm's statistics).</summary>
    public bool DropLast { get; init; } = true;

    /// <summary>A synthetic (proxy) set mixed into every batch, PORT-style; null for real data only.</summary>
    public SyntheticConfig? Synthetic { get; init; }

    internal void Validate(ConfigCheck check)
    {
        check(!string.IsNullOrWhiteSpace(Name), "data.name", "must name a data set or a folder");
        Synthetic?.Validate(check);
        check(TrainSize is null or >= 1, "data.trainSize", $"must be at least 1 (or null for all), got {TrainSize}");
        check(EvalSize >= 1, "data.evalSize", $"must be at least 1, got {EvalSize}");
        check(EvalSplit is "test" or "holdout", "data.evalSplit", $"must be test or holdout, got '{EvalSplit}'");
    }
}

/// <summary>
/// PORT's proxy data (papers.md §2.2): every step concatenates one real batch (batchSize images) with one synthetic
/// batch (<see cref="BatchSize"/> images, default the real batch size, so γ = 1/2 as in the released code) and computes
/// one adversarial loss on the union; an epoch is min(real batches, synthetic batches) steps. Synthetic images get no
/// augmentation (the paper's DDPM images get none). The set is an NPZ proxy set (Proxy/ProxySetFile.cs); an unlabelled
/// one is pseudo-labelled by <see cref="Teacher"/> (a checkpoint of <see cref="TeacherArch"/>), keeping only images it
/// classifies with softmax confidence at least <see cref="Threshold"/>. The manifest records the set, how many images
/// were kept and how they were labelled.
/// </summary>
public sealed record SyntheticConfig
{
    public string Path { get; init; } = "";
    public int? BatchSize { get; init; }
    public string? Teacher { get; init; }
    public string? TeacherArch { get; init; }
    public float Threshold { get; init; }

    internal void Validate(ConfigCheck check)
    {
        check(!string.IsNullOrWhiteSpace(Path), "data.synthetic.path", "must name an .npz proxy set");
        check(BatchSize is null or >= 1, "data.synthetic.batchSize", $"must be at least 1, got {BatchSize}");
        check(Threshold is >= 0 and < 1, "data.synthetic.threshold", $"must be in [0, 1), got {Threshold}");
        check(Teacher is null || !string.IsNullOrWhiteSpace(TeacherArch), "data.synthetic.teacherArch",
            "must name the teacher's architecture when a teacher is given");
    }
}

/// <summary>The architecture (a ModelZoo name) and, optionally, the per-channel normalization its first layer uses
/// (default: the data set's usual mean and std).</summary>
public sealed record ModelConfig
{
    public string Arch { get; init; } = "small-cnn";
    public float[]? Mean { get; init; }
    public float[]? Std { get; init; }

    internal void Validate(ConfigCheck check)
    {
        check(!string.IsNullOrWhiteSpace(Arch), "model.arch", "must name an architecture");
        check((Mean is null) == (Std is null), "model.mean", "and model.std must be given together");
        if (Mean is not null && Std is not null)
        {
            check(Mean.Length == Std.Length && Mean.Length > 0, "model.std",
                $"must have one value per channel like model.mean ({Mean.Length}), got {Std.Length}");
            check(Std.All(s => s > 0 && float.IsFinite(s)), "model.std", "values must be positive");
        }
    }
}

/// <summary>The training objective: its kind and its settings, passed as they are to the objective factory (which
/// checks them and fills in the defaults; the manifest records the exact settings it used).</summary>
public sealed record ObjectiveConfig
{
    public string Kind { get; init; } = "standard";
    public JsonElement? Settings { get; init; }

    internal void Validate(ConfigCheck check)
    {
        check(!string.IsNullOrWhiteSpace(Kind), "objective.kind", "must name an objective");
        check(Settings is null || Settings.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null,
            "objective.settings", $"must be a JSON object, got {Settings?.ValueKind}");
    }
}

/// <summary>SGD with momentum (Optim/Sgd.cs) and its learning-rate schedule.</summary>
public sealed record OptimizerConfig
{
    public string Kind { get; init; } = "sgd";
    public float Lr { get; init; } = 0.1f;
    public float Momentum { get; init; } = 0.9f;
    public bool Nesterov { get; init; }
    public float WeightDecay { get; init; }

    /// <summary>Decay only conv and linear weights, not biases and batch-norm parameters.</summary>
    public bool DecayWeightsOnly { get; init; }

    public ScheduleConfig Schedule { get; init; } = new();

    internal void Validate(ConfigCheck check, int epochs)
    {
        check(Kind == "sgd", "optimizer.kind", $"must be sgd (the only optimizer there is), got '{Kind}'");
        check(float.IsFinite(Lr) && Lr >= 0, "optimizer.lr", $"must be finite and >= 0, got {Lr}");
        check(float.IsFinite(Momentum) && Momentum >= 0, "optimizer.momentum", $"must be >= 0, got {Momentum}");
        check(!Nesterov || Momentum > 0, "optimizer.nesterov", "needs optimizer.momentum above 0");
        check(float.IsFinite(WeightDecay) && WeightDecay >= 0, "optimizer.weightDecay",
            $"must be >= 0, got {WeightDecay}");
        Schedule.Validate(check, epochs);
    }
}

/// <summary>
/// The learning rate over the run: "constant"; "step" (multiply by <see cref="Gamma"/> at each of the
/// <see cref="Milestones"/>, absolute epochs); "cosine" (from lr down to <see cref="EtaMin"/> over the run, per
/// iteration). <see cref="WarmupEpochs"/> (may be fractional) puts a linear warm-up in front; the schedule after it is
/// laid out so that milestones still fall at their absolute epochs and cosine still ends with the run.
/// </summary>
public sealed record ScheduleConfig
{
    public string Kind { get; init; } = "constant";
    public int[] Milestones { get; init; } = [];
    public float Gamma { get; init; } = 0.1f;
    public float WarmupEpochs { get; init; }
    public float EtaMin { get; init; }

    internal void Validate(ConfigCheck check, int epochs)
    {
        check(Kind is "constant" or "step" or "cosine", "optimizer.schedule.kind",
            $"must be constant, step or cosine, got '{Kind}'");
        check(Milestones.All(m => m >= 0) && Milestones.Zip(Milestones.Skip(1)).All(p => p.First <= p.Second),
            "optimizer.schedule.milestones", $"must be ascending epochs >= 0, got [{string.Join(", ", Milestones)}]");
        check(float.IsFinite(Gamma) && Gamma >= 0, "optimizer.schedule.gamma", $"must be >= 0, got {Gamma}");
        check(float.IsFinite(WarmupEpochs) && WarmupEpochs >= 0 && WarmupEpochs < epochs,
            "optimizer.schedule.warmupEpochs", $"must be >= 0 and below epochs ({epochs}), got {WarmupEpochs}");
        check(float.IsFinite(EtaMin) && EtaMin >= 0, "optimizer.schedule.etaMin", $"must be >= 0, got {EtaMin}");
    }
}

/// <summary>Random crop after zero padding by <see cref="CropPad"/> pixels, and horizontal flip (0 and false: no
/// augmentation).</summary>
public sealed record AugmentationConfig
{
    public int CropPad { get; init; }
    public bool Flip { get; init; }

    [JsonIgnore]
    public bool Enabled => CropPad > 0 || Flip;

    internal void Validate(ConfigCheck check) =>
        check(CropPad >= 0, "augmentation.cropPad", $"must be >= 0, got {CropPad}");
}

/// <summary>The per-epoch evaluation: clean accuracy and the accuracy under PGD (random start, one restart, CE loss)
/// on the fixed evaluation subset. best.safetensors is the epoch with the highest PGD accuracy.</summary>
public sealed record EvaluationConfig
{
    public string Norm { get; init; } = "linf";
    public float Eps { get; init; } = 0.1f;
    public int Steps { get; init; } = 20;
    public float StepSize { get; init; } = 0.0125f;
    public int BatchSize { get; init; } = 256;

    internal void Validate(ConfigCheck check)
    {
        check(Norm is "linf" or "l2", "evaluation.norm", $"must be linf or l2, got '{Norm}'");
        check(float.IsFinite(Eps) && Eps >= 0, "evaluation.eps", $"must be >= 0, got {Eps}");
        check(Steps >= 0, "evaluation.steps", $"must be >= 0, got {Steps}");
        check(float.IsFinite(StepSize) && StepSize >= 0, "evaluation.stepSize", $"must be >= 0, got {StepSize}");
        check(BatchSize >= 1, "evaluation.batchSize", $"must be at least 1, got {BatchSize}");
    }
}
