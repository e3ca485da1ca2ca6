using System.CommandLine;
using System.Globalization;
using System.Text;
using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Data;
using AdvRobust.Research.Detection;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Serialization;
using AdvRobust.Core.Validation;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Research.Training.Presets;
using AdvRobust.Cuda;
using AdvRobust.Report;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `advrobust demo`: the engine's research loop end to end on Fashion-MNIST. It trains the small CNN with Madry PGD-AT
/// and with TLA (eps = 0.1, the shipped presets configs/fashion-mnist-{pgd-at,tla}.json), evaluates each best
/// checkpoint on the test set (clean, PGD-20, APGD-CE, sequentially as AutoAttack does), measures k-NN detection in
/// each model's embedding space against attacks neither model trained on, and writes a report with plots.
///
/// Schedules. On the CPU (the default) it runs a short schedule that fits in 10 minutes on a 2-core machine: both
/// recipes see the same 32,000 training images once (640 steps of 50, lr 0.05 cosine-annealed to 0), so the figures
/// show the pipeline working, not the papers' accuracies. With --device cuda it runs the presets' full schedule. --epochs N runs that schedule
/// compressed to N epochs (the whole training set, milestones scaled), the longest run a CPU can afford. --quick is a
/// seconds-long smoke schedule (for tests and first runs); its numbers mean nothing.
///
/// Output folder: pgd-at/ and tla/ are ordinary run folders (manifest.json, metrics.jsonl, checkpoints, resume state;
/// plus evaluation.json and detection.json), and report.md with its PNG charts sits beside them. Ctrl-C or SIGTERM
/// while a recipe trains saves its checkpoint and exits with 130 or 143 naming the run folder to resume.
/// </summary>
public static class DemoCommand
{
    private const float Eps = DemoSchedule.Eps, EpsL2 = DemoSchedule.EpsL2;

    public static Command Create()
    {
        var output = new Option<string>("--out")
        {
            Description = "output folder (run folders, report.md, charts)",
            DefaultValueFactory = _ => "demo",
        };
        var device = BackendOption.Device();
        var data = new Option<string?>("--data")
        {
            Description = "folder with Fashion-MNIST in IDX format (default: Debian's dataset-fashion-mnist copy)",
        };
        var quick = new Option<bool>("--quick") { Description = "a seconds-long smoke run of every stage" };
        var full = new Option<bool>("--full")
        {
            Description = "the presets' full schedule (the default with --device cuda; hours on a CPU)",
        };
        var epochs = new Option<int?>("--epochs")
        {
            Description = "the full schedule compressed to N epochs (whole training set, milestones scaled, full " +
                          "evaluation); for a CPU",
        };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var command = new Command("demo",
            "train PGD-AT and TLA on Fashion-MNIST, evaluate, detect, and write a report (10 minutes on 2 CPU cores)")
        {
            output, device, data, quick, full, epochs, seed,
        };
        command.SetAction(p => Run(p.GetValue(output)!, p.GetValue(device)!, p.GetValue(data), p.GetValue(quick),
            p.GetValue(full), p.GetValue(epochs), p.GetValue(seed),
            Provenance.CommandLine(p)));
        return command;
    }

    private static int Run(string outDir, string device, string? dataDir, bool quick, bool full, int? epochs,
        ulong seed, string commandLine)
    {
        if ((quick ? 1 : 0) + (full ? 1 : 0) + (epochs is null ? 0 : 1) > 1)
            throw new ArgumentException("--quick, --full and --epochs choose different schedules; give at most one");
        var schedule = quick ? DemoSchedule.Quick
            : epochs is int n ? DemoSchedule.Compressed(n)
            : full || device == "cuda" ? DemoSchedule.Full : DemoSchedule.Short;
        OutputPaths.Folder("--out", outDir);
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new IOException($"'{outDir}' exists and is not empty; the demo writes a fresh folder (choose --out)");
        var total = System.Diagnostics.Stopwatch.StartNew();
        var train = FashionMnist.Load(dataDir, train: true);
        var test = FashionMnist.Load(dataDir, train: false);
        using var backend = BackendOption.Create(device, tf32: false);
        AnsiConsole.MarkupLine($"demo ([blue]{schedule.Name}[/] schedule) on {Markup.Escape(backend.DeviceName)}, " +
            $"writing to [blue]{Markup.Escape(outDir)}[/]");

        using var signals = new StopSignals("stopping training at the next step and saving a checkpoint")
        {
            Armed = false,
        };
        var results = new List<(string Recipe, EvaluationResult Evaluation, DetectionResult Detection, double Seconds)>();
        foreach (string recipe in new[] { "pgd-at", "tla" })
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            AnsiConsole.Write(new Rule($"[bold]{recipe}[/]").LeftJustified());
            string runPath = Path.Combine(outDir, recipe);
            var config = schedule.Config(recipe, seed, device);
            var data = TrainingData.From(config.Data, train, null);
            var (mean, std) = DataNormalization.Default(train);
            using var model = ModelZoo.Create(config.Model.Arch, backend, train.Classes, [train.C, train.H, train.W],
                mean, std, config.Seed);
            var run = RunDirectory.Create(runPath);
            using (var trainer = new Trainer(config, model, data,
                       ctx => TrainingObjectives.Create(config.Objective.Kind, config.Objective.Settings, ctx), run))
            {
                var environment = RunEnvironment.Capture(commandLine, backend, false, false,
                    TrainCommand.Libraries(backend));
                // Only training has something to save; a signal during evaluation or detection kills at once.
                signals.Armed = true;
                var trained = TrainCommand.ShowProgress(trainer, run, environment, signals.Token);
                signals.Armed = false;
                if (trained.Status != TrainStatus.Completed)
                {
                    AnsiConsole.MarkupLine(Markup.Escape(
                        $"stopped by {signals.Name} while training {recipe}: {run.Path} holds a resumable run " +
                        $"(advrobust train --resume {Provenance.Quote(run.Path)}); the demo itself starts over in a " +
                        "fresh --out folder"));
                    return signals.ExitCode;
                }
            }
            string best = Path.Combine(runPath, "best.safetensors");
            Checkpoint.Load(best, model);

            var testSubset = test.Slice(0, Math.Min(schedule.TestSamples, test.N));
            // One record per recipe (one hash of the checkpoint, one probe of the machine); each file names its data.
            var provenance = Provenance.Capture(commandLine, backend, false, best);
            var evaluation = Evaluate(model, testSubset, schedule, seed);
            WriteText(Path.Combine(runPath, RunReader.EvaluationFile), Provenance.Attach(evaluation.ToJson(),
                provenance with { Data = [$"{testSubset.Source} ({testSubset.N} images)"] }));

            var detection = Detect(model, train, test, schedule, seed);
            WriteText(Path.Combine(runPath, RunReader.DetectionFile), Provenance.Attach(detection.ToJson(),
                provenance with
                {
                    Data =
                    [
                        $"reference: {train.Source} (a seeded subset of " +
                        $"{Math.Min(schedule.ReferenceSamples, train.N)} images)",
                        $"test: {test.Source} (the first {Math.Min(schedule.DetectSamples, test.N)} images)",
                    ],
                }));
            results.Add((recipe, evaluation, detection, watch.Elapsed.TotalSeconds));
        }

        var runs = ReportWriter.Load(results.Select(r => Path.Combine(outDir, r.Recipe)).ToArray());
        var written = ReportWriter.Write(runs, outDir);
        PrintSummary(results, schedule, backend.DeviceName, total.Elapsed);
        AnsiConsole.MarkupLine($"report: [blue]{Markup.Escape(written[0])}[/] ({written.Count - 1} charts)");
        return 0;
    }

    /// <summary>Clean, PGD-20 and APGD-CE at eps 0.1, sequential (each attack only on points still robust).</summary>
    private static EvaluationResult Evaluate(ImageClassifier model, LabeledImages test, DemoSchedule schedule, ulong seed)
    {
        var attacks = new IAttack[]
        {
            new Pgd(new PgdSettings(PgdNorm.Linf, Eps, 2.5f * Eps / schedule.PgdSteps, schedule.PgdSteps, Seed: seed)),
            new Apgd(new ApgdSettings(PgdNorm.Linf, Eps, schedule.ApgdSteps, Seed: seed)),
        };
        EvaluationResult result = null!;
        var batch = BatchMemory.Fit(model, Math.Min(250, test.N), "the evaluation batch");
        Notes.Print(batch.Note);
        WithBar("robust evaluation", test.N, report =>
            result = new RobustEvaluation(attacks, batch.Batch).Run(model, test,
                new SyncProgress<EvaluationProgress>(p => report(p.Done))));
        return result;
    }

    /// <summary>k-NN detection against five attacks the models never trained on (FGSM, PGD l-inf and l2, CW, APGD).</summary>
    private static DetectionResult Detect(ImageClassifier model, LabeledImages train, LabeledImages test,
        DemoSchedule schedule, ulong seed)
    {
        var attacks = DetectCommand.BuildAttacks(DetectCommand.AllAttacks, Eps, EpsL2, schedule.DetectSteps, seed,
            test.SampleSize);
        var reference = AdversarialDetection.SeededSubset(train, Math.Min(schedule.ReferenceSamples, train.N), seed);
        var detectTest = test.Slice(0, Math.Min(schedule.DetectSamples, test.N));
        DetectionResult result = null!;
        AnsiConsole.Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(),
                new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                result = new AdversarialDetection(attacks, new DetectionSettings(K: 10)).Run(model, reference,
                    detectTest, new SyncProgress<DetectionProgress>(e =>
                    {
                        if (!tasks.TryGetValue(e.Stage, out var task))
                            tasks[e.Stage] = task = ctx.AddTask("detection: " + Markup.Escape(e.Stage),
                                maxValue: Math.Max(e.Total, 1));
                        task.Value = e.Done;
                    }));
            });
        return result;
    }

    /// <summary>Two tables that fit 80 columns: robust accuracy per recipe, then detection AUC per attack.</summary>
    private static void PrintSummary(
        IReadOnlyList<(string Recipe, EvaluationResult Evaluation, DetectionResult Detection, double Seconds)> results,
        DemoSchedule schedule, string device, TimeSpan elapsed)
    {
        var accuracy = new Table().Border(TableBorder.Rounded)
            .Title($"Fashion-MNIST, small CNN, eps {Eps.ToString(CultureInfo.InvariantCulture)} ({schedule.Name} schedule)")
            .Caption($"accuracy on the first {results[0].Evaluation.Samples} test images; attacks in turn, each on " +
                     "the points still robust")
            .AddColumns("recipe", "clean", $"PGD-{schedule.PgdSteps}", $"+ APGD-CE-{schedule.ApgdSteps}", "time");
        foreach (var (recipe, evaluation, _, seconds) in results)
            accuracy.AddRow(recipe, Percent(evaluation.CleanAccuracy), Percent(evaluation.Attacks[0].Accuracy),
                Percent(evaluation.Attacks[^1].Accuracy), $"{seconds / 60:F1} min");
        AnsiConsole.Write(accuracy);

        var detection = new Table().Border(TableBorder.Rounded)
            .Title("k-NN detection in embedding space (AUC)")
            .Caption($"clean correct vs adversarial inputs that fool the model; {results[0].Detection.TestSamples} " +
                     $"test and {results[0].Detection.ReferenceSamples} reference images, k = {results[0].Detection.K}")
            .AddColumn("attack");
        foreach (var r in results) detection.AddColumn(r.Recipe);
        foreach (var attack in results[0].Detection.Attacks.Select(a => a.Name))
            detection.AddRow(results.Select(r => r.Detection.Attacks.First(a => a.Name == attack).CleanVsAdversarial)
                .Select(c => c is null ? "—" : c.Auc.ToString("F3", CultureInfo.InvariantCulture))
                .Prepend(attack).ToArray());
        AnsiConsole.Write(detection);
        AnsiConsole.MarkupLine($"{Markup.Escape(device)}; {elapsed.TotalMinutes:F1} min in all");
    }

    private static string Percent(double value) => (100 * value).ToString("F1", CultureInfo.InvariantCulture) + "%";

    private static void WithBar(string name, int total, Action<Action<int>> body)
    {
        AnsiConsole.Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(),
                new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(name, maxValue: Math.Max(total, 1));
                body(done => task.Value = done);
            });
    }

    private static void WriteText(string path, string text) =>
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));

}
