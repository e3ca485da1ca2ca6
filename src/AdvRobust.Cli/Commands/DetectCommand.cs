using System.CommandLine;
using System.Globalization;
using System.Text;
using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Research.Detection;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Serialization;
using AdvRobust.Core.Validation;
using AdvRobust.Report;
using AdvRobust.Distributed;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `advrobust detect`: k-NN disagreement detection of adversarial and misclassified inputs in a model's embedding
/// space (papers.md §1.6), against attacks the model did not train on; a table of AUCs, --json with the ROC points
/// and exact attack settings, and --out DIR with detection.json and the ROC charts for `advrobust report`.
/// </summary>
public static class DetectCommand
{
    public const string AllAttacks = "fgsm,pgd-linf,pgd-l2,cw,apgd-ce";

    public static Command Create()
    {
        var model = ModelOptions.Model();
        var arch = ModelOptions.Arch();
        var data = ModelOptions.Data();
        var dataDir = ModelOptions.DataDir();
        var reference = new Option<int?>("--reference-samples")
        {
            Description = "embed a seeded subset of N training images as the reference set (default: all)",
        };
        var samples = new Option<int?>("--samples") { Description = "score the first N test points (default: all)" };
        var k = new Option<int>("--k") { Description = "nearest neighbours per input", DefaultValueFactory = _ => 10 };
        var attacks = new Option<string>("--attacks")
        {
            Description = "comma-separated, from " + AllAttacks + " (cw = PGD l-inf on the CW margin loss)",
            DefaultValueFactory = _ => AllAttacks,
        };
        var eps = new Option<float>("--eps") { Description = "l-inf radius in (0, 1] pixel units", DefaultValueFactory = _ => 0.1f };
        var epsL2 = new Option<float>("--eps-l2")
        {
            Description = "l2 radius (pgd-l2), in (0, √(C·H·W)]",
            DefaultValueFactory = _ => 1.0f,
        };
        var steps = new Option<int>("--steps") { Description = "iterations of PGD, CW and APGD", DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 256 };
        var seed = new Option<ulong>("--seed") { Description = "attack random starts and the reference subset", DefaultValueFactory = _ => 0UL };
        var outDir = new Option<string?>("--out") { Description = "write detection.json and ROC charts (PNG) into this folder" };
        var json = new Option<string?>("--json") { Description = "write the result as JSON to this file" };
        var device = BackendOption.Device();
        var tf32 = BackendOption.Tf32();
        var command = new Command("detect", "k-NN embedding detection of adversarial inputs: ROC, AUC, TPR at 5% FPR")
        {
            model, arch, data, dataDir, reference, samples, k, attacks, eps, epsL2, steps, batch, seed, outDir, json,
            device, tf32,
        };
        command.SetAction(p => Run(new DetectOptions(p.GetValue(model)!, p.GetValue(arch)!, p.GetValue(data)!,
            p.GetValue(dataDir), p.GetValue(reference), p.GetValue(samples), p.GetValue(k), p.GetValue(attacks)!,
            p.GetValue(eps), p.GetValue(epsL2), p.GetValue(steps), p.GetValue(batch), p.GetValue(seed),
            p.GetValue(outDir), p.GetValue(json), p.GetValue(device)!, p.GetValue(tf32)), Provenance.CommandLine(p)));
        return command;
    }

    private sealed record DetectOptions(string Model, string Arch, string Data, string? DataDir, int? ReferenceSamples,
        int? Samples, int K, string Attacks, float Eps, float EpsL2, int Steps, int BatchSize, ulong Seed,
        string? Out, string? Json, string Device, bool Tf32);

    private static int Run(DetectOptions o, string commandLine)
    {
        OutputPaths.InputFile("--model", o.Model, "checkpoint");
        var world = World.Current;
        Requests.Positive("--k", o.K);
        Requests.Positive("--batch-size", o.BatchSize);
        if (o.Json is { } jsonPath) OutputPaths.File("--json", jsonPath);
        if (o.Out is { } outPath) OutputPaths.Folder("--out", outPath);
        var test = Requests.NotEmpty(DataSets.LoadTest(o.Data, o.DataDir), "test set");
        var attacks = BuildAttacks(o.Attacks, o.Eps, o.EpsL2, o.Steps, o.Seed, test.SampleSize);
        test = test.Slice(0, Requests.Count("--samples", o.Samples, test.N, "test images", out var note));
        Notes.Print(note);
        var reference = Requests.NotEmpty(DataSets.LoadTrain(o.Data, o.DataDir), "reference (training) set");
        int referenceCount = Requests.Count("--reference-samples", o.ReferenceSamples, reference.N,
            "training images", out note);
        Notes.Print(note);
        if (o.ReferenceSamples is not null)
            reference = AdversarialDetection.SeededSubset(reference, referenceCount, o.Seed);
        if (o.K > reference.N)
            throw new ArgumentException($"--k {o.K} is more than the {reference.N} reference images");
        using var backend = BackendOption.Create(o.Device, o.Tf32);
        var (mean, std) = EvalCommand.Normalization(o.Model, test);
        using var classifier = ModelZoo.Create(o.Arch, backend, test.Classes, [test.C, test.H, test.W], mean, std, 0);
        Checkpoint.Load(o.Model, classifier);
        var batch = BatchMemory.Fit(classifier, Math.Min(o.BatchSize, Math.Max(test.N, reference.N)));
        Notes.Print(batch.Note);
        var detection = new AdversarialDetection(attacks, new DetectionSettings(o.K, batch.Batch));

        DetectionResult result = null!;
        AnsiConsole.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                result = detection.Run(classifier, reference, test, new SyncProgress<DetectionProgress>(e =>
                {
                    if (!tasks.TryGetValue(e.Stage, out var task))
                        tasks[e.Stage] = task = ctx.AddTask(Markup.Escape(e.Stage), maxValue: Math.Max(e.Total, 1));
                    task.Value = e.Done;
                }), world);
            });
        if (!world.IsRoot) return 0; // rank 0 alone reports and writes
        if (world.Size > 1)
            AnsiConsole.MarkupLine($"{test.N} test points split over {world.Size} MPI ranks, merged on rank 0");
        AnsiConsole.Write(Table(result));
        string text = Provenance.Attach(result.ToJson(), Provenance.Capture(commandLine, backend, o.Tf32, o.Model,
            $"reference: {reference.Source} ({reference.N} images)", $"test: {test.Source} ({test.N} images)"));
        if (o.Json is { } path) WriteText(path, text);
        if (o.Out is { } dir)
        {
            Directory.CreateDirectory(dir);
            WriteText(Path.Combine(dir, RunReader.DetectionFile), text);
            foreach (string png in ReportWriter.WriteRocCharts(result, dir))
                AnsiConsole.MarkupLine($"wrote [blue]{Markup.Escape(png)}[/]");
        }
        return 0;
    }

    /// <summary>The named attacks, l-inf at <paramref name="eps"/> except pgd-l2; PGD step 2.5·eps/steps.</summary>
    internal static IReadOnlyList<DetectionAttack> BuildAttacks(string names, float eps, float epsL2, int steps, ulong seed,
        int imageSize)
    {
        Requests.Eps("--eps", eps, PgdNorm.Linf, imageSize, allowZero: false);
        Requests.Eps("--eps-l2", epsL2, PgdNorm.L2, imageSize, allowZero: false);
        Requests.Positive("--steps", steps);
        var list = names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (list.Length == 0) throw new ArgumentException("--attacks names no attack");
        float alpha = 2.5f * eps / steps, alphaL2 = 2.5f * epsL2 / steps;
        return list.Select(name => new DetectionAttack(name, name switch
        {
            "fgsm" => new Fgsm(new FgsmSettings(eps)),
            "pgd-linf" => new Pgd(new PgdSettings(PgdNorm.Linf, eps, alpha, steps, Seed: seed)),
            "pgd-l2" => new Pgd(new PgdSettings(PgdNorm.L2, epsL2, alphaL2, steps, Seed: seed)),
            "cw" => new Pgd(new PgdSettings(PgdNorm.Linf, eps, alpha, steps, Loss: AttackLossKind.CW, Seed: seed)),
            "apgd-ce" => (IAttack)new Apgd(new ApgdSettings(PgdNorm.Linf, eps, steps, Seed: seed)),
            _ => throw new ArgumentException($"--attacks: unknown attack '{name}'; known: {AllAttacks}"),
        })).ToArray();
    }

    /// <summary>Short headers so the table fits 80 columns; the caption says what the two AUCs are.</summary>
    private static Table Table(DetectionResult r)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"k-NN detection: k = {r.K}, {r.ReferenceSamples} reference and {r.TestSamples} test images, " +
                $"clean accuracy {100 * r.CleanAccuracy:F2}%")
            .Caption("AUC adv: clean correct inputs vs the adversarial examples that fool the model. " +
                "AUC mis: attacked inputs, misclassified vs correct (papers.md §1.6). TPR at 5% FPR.")
            .AddColumns("attack", "eps", "acc.", "AUC adv", "TPR", "AUC mis", "TPR", "s");
        foreach (var a in r.Attacks)
            table.AddRow(Markup.Escape(a.Name), $"{a.Norm} {a.Eps.ToString("G4", CultureInfo.InvariantCulture)}",
                $"{100 * a.AdversarialAccuracy:F1}%", Auc(a.CleanVsAdversarial), Tpr(a.CleanVsAdversarial),
                Auc(a.MisclassifiedVsCorrect), Tpr(a.MisclassifiedVsCorrect), $"{a.Seconds:F0}");
        return table;
        static string Auc(RocCurve? c) => c is null ? "—" : $"{c.Auc:F4}";
        static string Tpr(RocCurve? c) => c is null ? "—" : $"{100 * c.TprAt5PercentFpr:F1}%";
    }

    private static void WriteText(string path, string text)
    {
        AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)));
        AnsiConsole.MarkupLine($"wrote [blue]{Markup.Escape(path)}[/]");
    }
}
