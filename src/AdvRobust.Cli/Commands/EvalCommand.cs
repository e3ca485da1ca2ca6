using System.CommandLine;
using System.Globalization;
using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Serialization;
using AdvRobust.Core.Validation;
using AdvRobust.Distributed;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `advrobust eval`: clean and robust accuracy of a checkpoint under one attack or the AutoAttack-style suite,
/// with a progress bar; --json writes the result with the exact attack settings.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var arch = ModelOptions.Arch();
        var data = ModelOptions.Data();
        var dataDir = ModelOptions.DataDir();
        var attack = new Option<string>("--attack")
        {
            Description = "fgsm, pgd, apgd-ce, apgd-dlr, apgd-t, fab-t, square or autoattack",
            DefaultValueFactory = _ => "pgd",
        };
        var norm = new Option<string>("--norm") { Description = "linf or l2", DefaultValueFactory = _ => "linf" };
        var eps = new Option<float>("--eps")
        {
            Description = "perturbation radius in pixel units of [0,1] images: linf in [0, 1], l2 in [0, √(C·H·W)]",
            Required = true,
        };
        var steps = new Option<int>("--steps") { Description = "attack iterations (pgd, apgd, fab-t)", DefaultValueFactory = _ => 20 };
        var alpha = new Option<float?>("--alpha") { Description = "PGD step size (default 2.5·eps/steps)" };
        var restarts = new Option<int>("--restarts") { DefaultValueFactory = _ => 1 };
        var loss = new Option<string>("--loss") { Description = "pgd/fgsm loss: ce or cw", DefaultValueFactory = _ => "ce" };
        var samples = new Option<int?>("--samples") { Description = "evaluate the first N test points" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 256 };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var json = new Option<string?>("--json") { Description = "write the result as JSON to this file" };
        var device = BackendOption.Device();
        var tf32 = BackendOption.Tf32();
        var command = new Command("eval", "clean and robust accuracy of a model under an attack")
        {
            model, arch, data, dataDir, attack, norm, eps, steps, alpha, restarts, loss, samples, batch, seed, json, device, tf32,
        };
        command.SetAction(p => Run(new EvalOptions(p.GetValue(model)!, p.GetValue(arch)!, p.GetValue(data)!,
            p.GetValue(dataDir), p.GetValue(attack)!, p.GetValue(norm)!, p.GetValue(eps), p.GetValue(steps),
            p.GetValue(alpha), p.GetValue(restarts), p.GetValue(loss)!, p.GetValue(samples), p.GetValue(batch),
            p.GetValue(seed), p.GetValue(json), p.GetValue(device)!, p.GetValue(tf32)), Provenance.CommandLine(p)));
        return command;
    }

    private sealed record EvalOptions(string Model, string Arch, string Data, string? DataDir, string Attack, string Norm,
        float Eps, int Steps, float? Alpha, int Restarts, string Loss, int? Samples, int BatchSize, ulong Seed,
        string? Json, string Device, bool Tf32);

    private static int Run(EvalOptions o, string commandLine)
    {
        OutputPaths.InputFile("--model", o.Model, "checkpoint");
        var world = World.Current;
        var norm = o.Norm switch
        {
            "linf" => PgdNorm.Linf,
            "l2" => PgdNorm.L2,
            _ => throw new ArgumentException($"--norm must be linf or l2, got '{o.Norm}'"),
        };
        Requests.Positive("--batch-size", o.BatchSize);
        Requests.Positive("--steps", o.Steps);
        Requests.Positive("--restarts", o.Restarts);
        if (o.Alpha is float step && !(step > 0 && float.IsFinite(step)))
            throw new ArgumentException($"--alpha must be > 0, got {step}");
        if (o.Json is { } jsonPath) OutputPaths.File("--json", jsonPath);
        var images = Requests.NotEmpty(DataSets.LoadTest(o.Data, o.DataDir), "test set");
        Requests.Eps("--eps", o.Eps, norm, images.SampleSize);
        images = images.Slice(0, Requests.Count("--samples", o.Samples, images.N, "test images", out var note));
        Notes.Print(note);
        using var backend = BackendOption.Create(o.Device, o.Tf32);
        var (mean, std) = Normalization(o.Model, images);
        using var classifier = ModelZoo.Create(o.Arch, backend, images.Classes, [images.C, images.H, images.W], mean, std, 0);
        Checkpoint.Load(o.Model, classifier);
        var batch = BatchMemory.Fit(classifier, Math.Min(o.BatchSize, images.N));
        Notes.Print(batch.Note);
        var evaluation = o.Attack == "autoattack"
            ? RobustEvaluation.Standard(norm, o.Eps, o.Seed, batch.Batch)
            : new RobustEvaluation(Attacks(o, norm), batch.Batch);

        EvaluationResult result = null!;
        AnsiConsole.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var progress = new SyncProgress<EvaluationProgress>(e =>
                {
                    if (!tasks.TryGetValue(e.Stage, out var task))
                        tasks[e.Stage] = task = ctx.AddTask(Markup.Escape(e.Stage), maxValue: Math.Max(e.Total, 1));
                    task.Value = e.Done;
                    task.Description = Markup.Escape($"{e.Stage} (robust {e.Robust})");
                });
                result = ShardedEvaluation.Run(evaluation, classifier, images, world, progress);
            });

        if (!world.IsRoot) return 0; // rank 0 alone reports and writes
        if (world.Size > 1)
            AnsiConsole.MarkupLine($"{images.N} test points split over {world.Size} MPI ranks, merged on rank 0");
        var table = new Table().Border(TableBorder.Rounded).AddColumns("stage", "attacked", "fooled", "accuracy", "seconds");
        table.AddRow("clean", images.N.ToString(CultureInfo.InvariantCulture), "",
            $"{100 * result.CleanAccuracy:F2}%", $"{result.CleanSeconds:F1}");
        foreach (var a in result.Attacks)
            table.AddRow(Markup.Escape(a.Name), a.Attacked.ToString(CultureInfo.InvariantCulture),
                a.Fooled.ToString(CultureInfo.InvariantCulture), $"{100 * a.Accuracy:F2}%", $"{a.Seconds:F1}");
        table.AddRow("[bold]robust (worst case)[/]", "", "", $"[bold]{100 * result.RobustAccuracy:F2}%[/]",
            $"{result.TotalSeconds:F1}");
        AnsiConsole.Write(table);
        if (o.Json is { } path)
        {
            string text = Provenance.Attach(result.ToJson(), Provenance.Capture(commandLine, backend, o.Tf32, o.Model,
                $"{images.Source} ({images.N} images)"));
            AtomicFile.Write(path, stream =>
            {
                using var writer = new StreamWriter(stream, leaveOpen: true);
                writer.Write(text);
            });
            AnsiConsole.MarkupLine($"wrote [blue]{Markup.Escape(path)}[/]");
        }
        return 0;
    }

    private static IReadOnlyList<IAttack> Attacks(EvalOptions o, PgdNorm norm)
    {
        var loss = o.Loss switch
        {
            "ce" => AttackLossKind.CrossEntropy,
            "cw" => AttackLossKind.CW,
            _ => throw new ArgumentException($"--loss must be ce or cw, got '{o.Loss}'"),
        };
        float alpha = o.Alpha ?? 2.5f * o.Eps / Math.Max(o.Steps, 1);
        return o.Attack switch
        {
            "fgsm" => [new Fgsm(new FgsmSettings(o.Eps, norm, loss))],
            "pgd" => [new Pgd(new PgdSettings(norm, o.Eps, alpha, o.Steps, true, o.Restarts, loss, Seed: o.Seed))],
            "apgd-ce" => [new Apgd(new ApgdSettings(norm, o.Eps, o.Steps, o.Restarts, AttackLossKind.CrossEntropy, Seed: o.Seed))],
            "apgd-dlr" => [new Apgd(new ApgdSettings(norm, o.Eps, o.Steps, o.Restarts, AttackLossKind.Dlr, Seed: o.Seed))],
            "apgd-t" => [new Apgd(new ApgdSettings(norm, o.Eps, o.Steps, o.Restarts, AttackLossKind.TargetedDlr, Seed: o.Seed))],
            "fab-t" => [new Fab(new FabSettings(norm, o.Eps, o.Steps, o.Restarts, Seed: o.Seed))],
            "square" => [new Square(new SquareSettings(o.Eps, Seed: o.Seed, Norm: norm))],
            _ => throw new ArgumentException(
                $"--attack must be fgsm, pgd, apgd-ce, apgd-dlr, apgd-t, fab-t, square or autoattack, got '{o.Attack}'"),
        };
    }

    /// <summary>The checkpoint's "normalize.mean"/"normalize.std" metadata (checked: finite, std > 0), else the data
    /// set's defaults.</summary>
    internal static (float[] Mean, float[] Std) Normalization(string checkpoint, LabeledImages images) =>
        Checkpoint.ReadNormalization(checkpoint) ?? DataNormalization.Default(images);
}
