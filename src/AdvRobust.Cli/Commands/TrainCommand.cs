using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Validation;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Cuda;
using AdvRobust.Distributed;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `advrobust train`: runs a training config (configs/*.json, changed with --set) into a run folder (manifest,
/// metrics.jsonl, last/best checkpoints, resume state), or continues one with --resume. Ctrl-C (SIGINT) or SIGTERM
/// stops at the next step boundary after saving a checkpoint, marks the manifest "cancelled" and exits with 130 or 143
/// (<see cref="StopSignals"/>; a second signal kills the process). --resume on a run that stopped before its first
/// checkpoint restarts it from step 0; on a completed run it says so and changes nothing.
///
/// --deterministic (CUDA): cuDNN may pick only convolution algorithms it reports as CUDNN_DETERMINISTIC
/// (<see cref="CudnnConvolutions.Deterministic"/>). Our own kernels use no atomics and cuBLAS is bit-reproducible on
/// one stream, so with it a run repeats on the same GPU as long as cudnnFind picks the same algorithms; it picks the
/// fastest deterministic one by timing, so two processes can still differ when timings are close (pinning the choice
/// is not implemented). The flag is recorded in the manifest either way; on the CPU everything is deterministic.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config")
        {
            Description = "training config (JSON), e.g. configs/fashion-mnist-pgd-at.json",
        };
        var set = new Option<string[]>("--set")
        {
            Description = "override a config key, e.g. --set optimizer.lr=0.05 (repeatable)",
            DefaultValueFactory = _ => [],
        };
        var device = new Option<string?>("--device") { Description = "cpu or cuda (default: the config's device)" };
        var deterministic = new Option<bool>("--deterministic")
        {
            Description = "cuda: only deterministic cuDNN convolution algorithms (recorded in the manifest)",
        };
        var tf32 = new Option<bool>("--tf32") { Description = "cuda: allow TF32 tensor cores in cuBLAS/cuDNN" };
        var output = new Option<string?>("--out") { Description = "run folder (default runs/<config name>-<time>)" };
        var resume = new Option<string?>("--resume")
        {
            Description = "continue the run in this folder from its last checkpoint",
        };
        var data = new Option<string?>("--data") { Description = "folder holding the data set (replaces data.dir)" };
        var replicaCheck = new Option<int>("--replica-check")
        {
            Description = "under mpirun: compare every rank's weights with rank 0's every N steps",
            DefaultValueFactory = _ => 50,
        };
        var syncBatchNorm = new Option<bool>("--sync-batch-norm")
        {
            Description = "under mpirun: batch norm uses the global batch's statistics (config key syncBatchNorm)",
        };
        var command = new Command("train", "train a model from a config into a run folder, or resume a run")
        {
            config, set, device, deterministic, tf32, output, resume, data, replicaCheck, syncBatchNorm,
        };
        command.SetAction(p => Run(new TrainOptions(p.GetValue(config), p.GetValue(set) ?? [], p.GetValue(device),
            p.GetValue(deterministic), p.GetValue(tf32), p.GetValue(output), p.GetValue(resume), p.GetValue(data),
            Provenance.CommandLine(p)) { ReplicaCheck = p.GetValue(replicaCheck), SyncBatchNorm = p.GetValue(syncBatchNorm) }));
        return command;
    }

    internal sealed record TrainOptions(string? Config, string[] Set, string? Device, bool Deterministic, bool Tf32,
        string? Out, string? Resume, string? Data, string CommandLine)
    {
        public int ReplicaCheck { get; init; } = 50;
        public bool SyncBatchNorm { get; init; }
    }

    internal static int Run(TrainOptions o)
    {
        Requests.Positive("--replica-check", o.ReplicaCheck);
        var world = World.Current;
        var (config, resumed, output) = Prepare(o, world);
        try
        {
            return Run(o, world, config, resumed, output);
        }
        finally
        {
            TrainRanks.Cleanup(world);
        }
    }

    private static int Run(TrainOptions o, ICommunicator world, TrainConfig config, RunDirectory? resumed,
        string? output)
    {
        if (resumed is not null)
        {
            if (resumed.OpenNotice is { } tidied) AnsiConsole.MarkupLine(Markup.Escape(tidied));
            if (resumed.CompletedNotice() is { } complete)
            {
                AnsiConsole.MarkupLine(Markup.Escape(complete));
                return 0;
            }
            TrainRanks.CheckWorldSize(resumed, world);
        }
        string device = o.Device ?? config.Device;
        bool deterministic = o.Deterministic || config.Deterministic, tf32 = o.Tf32 || config.Tf32;
        if (resumed is null)
            config = config with
            {
                Device = device, Deterministic = deterministic, Tf32 = tf32,
                SyncBatchNorm = o.SyncBatchNorm || config.SyncBatchNorm,
            };
        using var backend = BackendOption.Create(device, tf32);
        if (backend is CudaBackend cuda) cuda.Convolutions.Deterministic = deterministic;
        var trainingData = TrainingData.Load(config.Data, o.Data);
        Requests.NotEmpty(trainingData.Train, "training set");
        if (config.Data.Synthetic is { } synthetic) trainingData = WithSynthetic(trainingData, synthetic, backend);
        var environment = RunEnvironment.Capture(o.CommandLine, backend, deterministic, tf32, Libraries(backend));
        if (world.Size > 1) environment = TrainRanks.WithRanks(environment, backend, world);
        var (mean, std) = config.Model.Mean is { } m && config.Model.Std is { } s
            ? (m, s)
            : DataNormalization.Default(trainingData.Train);
        var train = trainingData.Train;
        TrainRanks.CheckShards(config.BatchSize, train.N, config.Data.DropLast, world);
        using var model = ModelZoo.Create(config.Model.Arch, backend, train.Classes, [train.C, train.H, train.W], mean,
            std, config.Seed);
        if (resumed is null) TrainingMemory.Check(model, config);
        // A new run's folder is made only now, when the config, data, teacher and model have all been accepted,
        // and removed again if the trainer refuses the config (nothing is written into it before training starts).
        bool existed = Directory.Exists(output);
        var run = resumed ?? TrainRanks.Create(output!, world);
        if (resumed is null && run.OpenNotice is { } removed) AnsiConsole.MarkupLine(Markup.Escape(removed));
        string? deviceNote = null;
        using var nccl = world.Size > 1 && backend is CudaBackend cudaRank
            ? TrainRanks.DeviceCollectives(cudaRank, world, out deviceNote)
            : null;
        using var trainer = NewTrainer(config, model, trainingData, run, removeIfEmpty: resumed is null && !existed);
        if (world.Size > 1)
        {
            // --deterministic also fixes the order in which the ranks' gradients are summed (rank 0, then 1, …)
            // The run's config records syncBatchNorm, so a resumed run keeps it.
            trainer.Parallel = new DataParallel(world, model, o.ReplicaCheck, fixedOrder: deterministic, device: nccl,
                syncBatchNorm: config.SyncBatchNorm, overlap: TrainRanks.Overlap());
            var gradients = trainer.Parallel.Gradients;
            AnsiConsole.MarkupLine($"data-parallel over {world.Size} MPI ranks: {config.BatchSize} images per step, " +
                $"{Shards.Of(config.BatchSize, world).Count} on rank 0; gradients " + (gradients.FixedOrder
                    ? "gathered on rank 0, summed in rank order and broadcast (--deterministic)"
                    : $"all-reduced in {gradients.Buckets} bucket(s) of ≤ {gradients.BucketBytes >> 20} MiB, " +
                      (gradients.Overlap ? "each as soon as backward has finished it" : "after backward")) +
                $" ({4 * gradients.GradientValues / 1e6:F2} MB per step); batch norm " +
                (config.SyncBatchNorm
                    ? $"synchronized ({trainer.Parallel.SyncedBatchNormLayers} layers, global batch statistics)"
                    : "per rank (shard statistics)"));
            if (deviceNote is not null) AnsiConsole.MarkupLine(Markup.Escape(deterministic && nccl is not null
                ? "--deterministic: gradients summed in rank order through the host; NCCL broadcasts the state only"
                : deviceNote));
        }

        AnsiConsole.MarkupLine($"{(run.Resuming ? "resuming" : "training")} [blue]{Markup.Escape(run.Path)}[/]: " +
            $"{Markup.Escape(model.GetType().Name)} ({model.ParameterCount():N0} parameters), " +
            $"{Markup.Escape(trainer.Objective.Name)}, {train.N:N0} training images, {trainer.BatchesPerEpoch} steps " +
            $"per epoch, {config.Epochs} epochs, on {Markup.Escape(backend.DeviceName)}");
        trainer.Notice = notice => AnsiConsole.MarkupLine(Markup.Escape(notice));
        using var signals = new StopSignals("stopping at the next step and saving a checkpoint");
        var result = ShowProgress(trainer, run, environment, signals.Token);
        Summarize(run, result, signals);
        return result.Status == TrainStatus.Completed ? 0 : signals.ExitCode;
    }

    private static Trainer NewTrainer(TrainConfig config, ImageClassifier model, TrainingData data, RunDirectory run,
        bool removeIfEmpty)
    {
        try
        {
            return new Trainer(config, model, data,
                ctx => ObjectiveFactory.Create(config.Objective.Kind, config.Objective.Settings, ctx), run);
        }
        catch when (removeIfEmpty && !Directory.EnumerateFileSystemEntries(run.Path).Any())
        {
            Directory.Delete(run.Path);
            throw;
        }
    }

    /// <summary>PORT's proxy set, pseudo-labelled by the teacher checkpoint when the config names one.</summary>
    private static TrainingData WithSynthetic(TrainingData data, SyntheticConfig synthetic, IBackend backend)
    {
        if (synthetic.Teacher is not { } checkpoint) return data.WithSynthetic(synthetic, null);
        OutputPaths.InputFile("--teacher", checkpoint, "teacher checkpoint");
        var train = data.Train;
        var (mean, std) = EvalCommand.Normalization(checkpoint, train);
        using var teacher = ModelZoo.Create(synthetic.TeacherArch!, backend, train.Classes, [train.C, train.H, train.W],
            mean, std, 0);
        AdvRobust.Core.Checkpoints.Checkpoint.Load(checkpoint, teacher);
        var labelled = data.WithSynthetic(synthetic, teacher);
        AnsiConsole.MarkupLine(Markup.Escape(labelled.SyntheticDescription ?? ""));
        return labelled;
    }

    /// <summary>The config and folder of a run to resume (--resume), or of a new one (--config, --set, --out): its
    /// folder is checked here and made by the caller once everything else has been accepted.</summary>
    private static (TrainConfig Config, RunDirectory? Resumed, string? Output) Prepare(TrainOptions o,
        ICommunicator world)
    {
        if (o.Resume is { } folder)
        {
            if (o.Config is not null || o.Set.Length > 0 || o.Out is not null)
                throw new ArgumentException("--resume continues a run with the config in its manifest.json; " +
                                            "--config, --set and --out cannot be combined with it");
            var run = world.Size > 1 ? TrainRanks.OpenForResume(folder, world) : RunDirectory.Open(folder);
            return (run.ReadManifest().Config, run, null);
        }
        if (o.Config is null) throw new ArgumentException("give --config FILE for a new run, or --resume RUN_DIR");
        var config = TrainConfig.Load(o.Config, o.Set);
        string stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string output = o.Out ?? Path.Combine("runs", $"{Path.GetFileNameWithoutExtension(o.Config)}-{stamp}");
        OutputPaths.Folder("--out", output);
        return (config, null, output);
    }

    internal static TrainResult ShowProgress(Trainer trainer, RunDirectory run, RunEnvironment environment,
        CancellationToken cancel)
    {
        TrainResult result = null!;
        AnsiConsole.Progress().AutoClear(false).HideCompleted(false).Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("starting", maxValue: Math.Max(trainer.TotalSteps, 1));
                int shownEpochs = run.Resuming ? run.Metrics.Read().Count : 0, epoch = 0;
                var progress = new SyncProgress<TrainProgress>(p =>
                {
                    if (p.Epoch != epoch) // a new epoch began: print the line of the one that ended
                    {
                        epoch = p.Epoch;
                        shownEpochs = PrintNewLines(run, shownEpochs);
                    }
                    task.Value = p.Step;
                    task.Description = Markup.Escape(p.Evaluation is { } e
                        ? $"epoch {p.Epoch}/{p.Epochs} · evaluating {e.Stage} {e.Done}/{e.Total}"
                        : $"epoch {p.Epoch}/{p.Epochs} · loss {p.Loss:F4} · acc {100 * p.Accuracy:F1}% · " +
                          $"{p.ImagesPerSecond:N0} img/s · lr {p.Lr:G3}");
                });
                result = trainer.Run(environment, progress, cancel);
                PrintNewLines(run, shownEpochs);
                task.Value = result.Steps;
            });
        return result;
    }

    private static int PrintNewLines(RunDirectory run, int shown)
    {
        var lines = run.Metrics.Read();
        for (; shown < lines.Count; shown++) AnsiConsole.MarkupLine(Markup.Escape(Line(lines[shown])));
        return shown;
    }

    private static string Line(EpochMetrics m) =>
        $"epoch {m.Epoch}: loss {m.TrainLoss:F4}, train acc {100 * m.TrainAccuracy:F2}%, " +
        $"clean {100 * m.CleanAccuracy:F2}%, PGD {100 * m.PgdAccuracy:F2}%{(m.Best ? " (best)" : "")}, " +
        $"{m.ImagesPerSecond:N0} img/s, {m.EpochSeconds:F1} s";

    private static void Summarize(RunDirectory run, TrainResult result, StopSignals signals)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("", "");
        table.AddRow("status", result.Status == TrainStatus.Completed
            ? "[green]completed[/]"
            : $"[yellow]stopped by {Markup.Escape(signals.Name)}; checkpoint saved[/]");
        table.AddRow("epochs done", $"{result.EpochsCompleted} ({result.Steps:N0} steps)");
        if (result.LastEpoch is { } last)
            table.AddRow("last epoch", $"clean {100 * last.CleanAccuracy:F2}%, PGD {100 * last.PgdAccuracy:F2}%");
        if (result.BestEpoch > 0)
            table.AddRow("best (PGD)", $"{100 * result.BestPgdAccuracy:F2}% at epoch {result.BestEpoch}");
        table.AddRow("run folder", Markup.Escape(run.Path));
        AnsiConsole.Write(table);
        if (result.Status == TrainStatus.Cancelled)
            AnsiConsole.MarkupLine(
                $"continue with [blue]advrobust train --resume {Markup.Escape(Provenance.Quote(run.Path))}[/]");
    }

    /// <summary>What the manifest records about the GPU stack: every line of `advrobust doctor` for CUDA.</summary>
    internal static Dictionary<string, string> Libraries(IBackend backend) => backend is CudaBackend
        ? CudaDiagnostics.Probe().ToDictionary(i => i.Component, i => i.Ok ? i.Detail : "missing: " + i.Detail)
        : [];
}

/// <summary>
/// How the train command builds its objective from the config's kind and settings: <see cref="TrainingObjectives.Create"/>.
/// A seam for tests, which swap in a deliberately failing (NaN) or trivial objective and restore this afterwards.
/// </summary>
internal static class ObjectiveFactory
{
    internal static Func<string, JsonElement?, ObjectiveContext, ITrainingObjective> Create { get; set; } =
        TrainingObjectives.Create;
}
