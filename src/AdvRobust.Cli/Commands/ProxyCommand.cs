using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using AdvRobust.Core;
using AdvRobust.Research.Proxy;
using AdvRobust.Core.Serialization;
using AdvRobust.Core.Validation;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `advrobust proxy`: synthetic (proxy) data sets. `generate` writes one of the built-in proxies (PCA, mixup, noise)
/// of a real training set as an .npz (<see cref="ProxySetFile"/>); `rank` trains robust real-vs-synthetic
/// discriminators at each ε and ranks the sets by ARC, closest first. The PORT `train` subcommand joins these here.
/// </summary>
public static class ProxyCommand
{
    public static Command Create() => new("proxy",
        "generate synthetic proxy data sets, rank them by ARC, and train on real + proxy data (PORT)")
    {
        Generate(),
        Rank(),
        Train(),
    };

    /// <summary>
    /// `proxy train`: `advrobust train` with a proxy set mixed into every batch (PORT, papers.md §2.2), i.e. the
    /// config's data.synthetic section set from these options; the run folder is an ordinary one (resume it with
    /// `advrobust train --resume`).
    /// </summary>
    private static Command Train()
    {
        var config = new Option<string>("--config")
        {
            Description = "training config, e.g. configs/fashion-mnist-pgd-at.json",
            Required = true,
        };
        var synthetic = new Option<string>("--synthetic") { Description = "the proxy set (.npz)", Required = true };
        var syntheticBatch = new Option<int?>("--synthetic-batch")
        {
            Description = "proxy images per step (default: the real batch size, i.e. a 1:1 mix)",
        };
        var teacher = new Option<string?>("--teacher")
        {
            Description = "checkpoint that pseudo-labels the proxy set (needed when it has no labels)",
        };
        var teacherArch = new Option<string?>("--teacher-arch") { Description = "the teacher's architecture" };
        var threshold = new Option<float>("--threshold")
        {
            Description = "keep proxy images the teacher labels with at least this softmax confidence",
            DefaultValueFactory = _ => 0f,
        };
        var set = new Option<string[]>("--set") { Description = "override a config key", DefaultValueFactory = _ => [] };
        var output = new Option<string?>("--out") { Description = "run folder" };
        var device = new Option<string?>("--device") { Description = "cpu or cuda (default: the config's)" };
        var data = new Option<string?>("--data") { Description = "folder holding the real data set" };
        var command = new Command("train", "PORT: adversarial training on real + proxy data (advrobust train with " +
            "data.synthetic set)")
        {
            config, synthetic, syntheticBatch, teacher, teacherArch, threshold, set, output, device, data,
        };
        command.SetAction(p =>
        {
            var overrides = new List<string>(p.GetValue(set) ?? [])
            {
                "data.synthetic.path=" + p.GetValue(synthetic),
                "data.synthetic.threshold=" + p.GetValue(threshold).ToString(CultureInfo.InvariantCulture),
            };
            if (p.GetValue(syntheticBatch) is int b) overrides.Add($"data.synthetic.batchSize={b}");
            if (p.GetValue(teacher) is { } t) overrides.Add("data.synthetic.teacher=" + t);
            if (p.GetValue(teacherArch) is { } a) overrides.Add("data.synthetic.teacherArch=" + a);
            return TrainCommand.Run(new TrainCommand.TrainOptions(p.GetValue(config), overrides.ToArray(),
                p.GetValue(device), false, false, p.GetValue(output), null, p.GetValue(data),
                Provenance.CommandLine(p)));
        });
        return command;
    }

    private static Option<string> DataOption() => new("--data")
    {
        Description = "the real data set: fashion-mnist, mnist, cifar10 or a folder (its training split is used)",
        Required = true,
    };

    private static Option<string?> DataDirOption() =>
        new("--data-dir") { Description = "where the named data set lives (default: the system copy)" };

    private static Command Generate()
    {
        var kind = new Option<string>("--kind") { Description = "pca, mixup or noise", Required = true };
        var k = new Option<int>("--k")
        {
            Description = "pca: principal directions kept per class (small k: blurry, far proxy)",
            DefaultValueFactory = _ => 10,
        };
        var sigma = new Option<float>("--sigma")
        {
            Description = "noise: Gaussian noise std in pixel units (small: close proxy)",
            DefaultValueFactory = _ => 0.05f,
        };
        var count = new Option<int>("--count") { Description = "number of images to generate", Required = true };
        var data = DataOption();
        var dataDir = DataDirOption();
        var output = new Option<string>("--out") { Description = "the .npz file to write", Required = true };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var device = BackendOption.Device();
        var command = new Command("generate", "write a built-in proxy of the real training set as an .npz")
        {
            kind, k, sigma, count, data, dataDir, output, seed, device,
        };
        command.SetAction(p => RunGenerate(p.GetValue(kind)!, p.GetValue(k), p.GetValue(sigma), p.GetValue(count),
            p.GetValue(data)!, p.GetValue(dataDir), p.GetValue(output)!, p.GetValue(seed), p.GetValue(device)!));
        return command;
    }

    private static int RunGenerate(string kind, int k, float sigma, int count, string data, string? dataDir,
        string output, ulong seed, string device)
    {
        var proxyKind = kind switch
        {
            "pca" => ProxyKind.Pca,
            "mixup" => ProxyKind.Mixup,
            "noise" => ProxyKind.Noise,
            _ => throw new ArgumentException($"--kind must be pca, mixup or noise, got '{kind}'"),
        };
        if (count < 1) throw new ArgumentException($"--count must be at least 1, got {count}");
        if (proxyKind == ProxyKind.Pca && k < 0) throw new ArgumentException($"--k must be >= 0, got {k}");
        if (proxyKind == ProxyKind.Noise && !(sigma >= 0 && float.IsFinite(sigma)))
            throw new ArgumentException($"--sigma must be finite and >= 0, got {sigma}");
        var watch = Stopwatch.StartNew();
        OutputPaths.File("--out", output, "proxy.npz");
        var real = Requests.NotEmpty(DataSets.LoadTrain(data, dataDir), "real training set");
        using var backend = BackendOption.Create(device, tf32: false);
        var set = ProxyGenerator.Generate(new ProxyRecipe(proxyKind, count, seed, k, sigma), real, backend);
        ProxySetFile.Write(output, set);
        AnsiConsole.MarkupLine(Markup.Escape(
            $"wrote {output}: {set.N} images {set.C}×{set.H}×{set.W}, {set.Name}, {watch.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    private static Command Rank()
    {
        var sets = new Argument<string[]>("sets")
        {
            Description = "proxy sets (.npz: uint8 'images', optional 'labels' and 'source')",
            Arity = ArgumentArity.OneOrMore,
        };
        var data = DataOption();
        var dataDir = DataDirOption();
        var eps = new Option<string>("--eps")
        {
            Description = "comma-separated l-inf budgets, ascending",
            DefaultValueFactory = _ => "0,0.02,0.05,0.1",
        };
        var samples = new Option<int>("--samples")
        {
            Description = "training images per side (real and synthetic) for each discriminator",
            DefaultValueFactory = _ => 1000,
        };
        var testSamples = new Option<int>("--test-samples")
        {
            Description = "held-out images per side the robust accuracy is measured on",
            DefaultValueFactory = _ => 500,
        };
        var defaults = new DiscriminatorSettings();
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => defaults.Epochs };
        var arch = new Option<string>("--arch")
        {
            Description = "discriminator: tiny (conv-conv-max-pool, seconds on a CPU) or a model-zoo name: " +
                string.Join(", ", DiscriminatorSettings.Architectures),
            DefaultValueFactory = _ => defaults.Arch,
        };
        var trainSteps = new Option<int>("--train-steps") { DefaultValueFactory = _ => defaults.TrainSteps };
        var evalSteps = new Option<int>("--eval-steps") { DefaultValueFactory = _ => defaults.EvalSteps };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var json = new Option<string?>("--json") { Description = "write the ranking with every curve as JSON" };
        var device = BackendOption.Device();
        var tf32 = BackendOption.Tf32();
        var command = new Command("rank", "rank proxy sets by ARC (robust real-vs-synthetic discrimination)")
        {
            sets, data, dataDir, eps, samples, testSamples, epochs, arch, trainSteps, evalSteps, seed, json, device,
            tf32,
        };
        command.SetAction(p => RunRank(new RankOptions(p.GetValue(sets)!, p.GetValue(data)!, p.GetValue(dataDir),
            ParseEps(p.GetValue(eps)!), p.GetValue(samples), p.GetValue(testSamples),
            defaults with
            {
                Epochs = p.GetValue(epochs), Arch = p.GetValue(arch)!, TrainSteps = p.GetValue(trainSteps),
                EvalSteps = p.GetValue(evalSteps),
            },
            p.GetValue(seed), p.GetValue(json), p.GetValue(device)!, p.GetValue(tf32)), Provenance.CommandLine(p)));
        return command;
    }

    private sealed record RankOptions(string[] Sets, string Data, string? DataDir, double[] Eps, int Samples,
        int TestSamples, DiscriminatorSettings Settings, ulong Seed, string? Json, string Device, bool Tf32);

    private static int RunRank(RankOptions o, string commandLine)
    {
        Requests.Positive("--samples", o.Samples);
        Requests.Positive("--test-samples", o.TestSamples);
        Requests.Positive("--epochs", o.Settings.Epochs);
        Requests.Positive("--train-steps", o.Settings.TrainSteps);
        Requests.Positive("--eval-steps", o.Settings.EvalSteps);
        o.Settings.Validate();
        foreach (string set in o.Sets) OutputPaths.InputFile("sets", set, "proxy set");
        if (o.Json is { } jsonPath) OutputPaths.File("--json", jsonPath);
        var sets = o.Sets.Select(ProxySetFile.Read).ToArray();
        var real = Requests.NotEmpty(DataSets.LoadTrain(o.Data, o.DataDir), "real training set");
        using var backend = BackendOption.Create(o.Device, o.Tf32);
        var discrimination = new RobustDiscrimination(backend, o.Settings, o.Seed);
        ProxyRanking ranking = null!;
        AnsiConsole.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<(int, double), ProgressTask>();
                var progress = new SyncProgress<RankingProgress>(e =>
                {
                    var key = (e.Index, e.Step.Eps);
                    string name = $"{Path.GetFileName(e.Set)} ({e.Index}/{e.Sets}) ε={Format(e.Step.Eps)}";
                    if (!tasks.TryGetValue(key, out var task))
                        tasks[key] = task = ctx.AddTask(Markup.Escape(name), maxValue: e.Step.Total);
                    task.Value = e.Step.Done;
                });
                ranking = ProxyRanking.Rank(real, sets, o.Eps, o.Samples, o.TestSamples, discrimination, progress);
            });
        AnsiConsole.Write(Table(ranking));
        if (o.Json is { } path)
        {
            string text = Provenance.Attach(ranking.ToJson(), Provenance.Capture(commandLine, backend, o.Tf32, null,
                o.Sets.Select(s => $"proxy set: {Path.GetFullPath(s)}").Prepend($"real: {real.Source} ({real.N} images)")
                    .ToArray()));
            AtomicFile.Write(path, stream =>
            {
                using var writer = new StreamWriter(stream, leaveOpen: true);
                writer.Write(text);
            });
            AnsiConsole.MarkupLine($"wrote [blue]{Markup.Escape(path)}[/]");
        }
        return 0;
    }

    private static Table Table(ProxyRanking ranking)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"robust real-vs-synthetic accuracy at each ε; real: {ranking.Real}, " +
                                 $"{ranking.TrainPerSide} train / {ranking.TestPerSide} test images per side"))
            .Caption("ARC: area above chance, 0 = indistinguishable; lower = closer proxy");
        table.AddColumns("#", "set", "ARC", "raw");
        foreach (double e in ranking.Eps) table.AddColumn($"ε={Format(e)}");
        for (int i = 0; i < ranking.Ranked.Count; i++)
        {
            var s = ranking.Ranked[i];
            var cells = new List<string>
            {
                (i + 1).ToString(CultureInfo.InvariantCulture), Markup.Escape(Path.GetFileName(s.Name)), $"{s.Arc:F3}",
                $"{s.RawArc:F3}",
            };
            cells.AddRange(s.Points.Select(p => $"{100 * p.Accuracy:F1}%"));
            table.AddRow(cells.ToArray());
        }
        return table;
    }

    /// <summary>"0,0.02,0.05" → [0, 0.02, 0.05]; the grid's order is checked by ARC.</summary>
    private static double[] ParseEps(string csv)
    {
        var values = new List<double>();
        foreach (string part in csv.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ||
                !(v >= 0 && double.IsFinite(v)))
                throw new ArgumentException($"--eps: '{part}' is not a budget >= 0 (expected e.g. 0,0.02,0.05,0.1)");
            values.Add(v);
        }
        ProxyRanking.CheckGrid(values); // two or more, ascending, in [0, 1]: checked before any data is loaded
        return values.ToArray();
    }

    private static string Format(double eps) => eps.ToString("0.###", CultureInfo.InvariantCulture);
}
