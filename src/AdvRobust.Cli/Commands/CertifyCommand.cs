using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using AdvRobust.Core;
using AdvRobust.Research.Certification;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Serialization;
using AdvRobust.Core.Tensors;
using AdvRobust.Core.Validation;
using AdvRobust.Distributed;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `advrobust certify`: randomized-smoothing certification (Cohen et al. 2019 CERTIFY) of a checkpoint on test points
/// 0, S, 2S, … (--skip S, the first --samples of them), with a progress bar. Each point's result is one JSON line in
/// --out, written as soon as it is known; rerunning with the same --out and settings skips the points already there,
/// and since every draw is keyed by (seed, test index) a resumed run writes the lines an uninterrupted one would.
/// Prints certified accuracy at --radii; --curve writes the exact accuracy-vs-radius step curve as CSV, --plot as a PNG.
/// Ctrl-C or SIGTERM stops within one batch of draws, says how many points the file keeps and exits with 130 or 143.
/// </summary>
public static class CertifyCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var arch = ModelOptions.Arch();
        var data = ModelOptions.Data();
        var dataDir = ModelOptions.DataDir();
        var sigma = new Option<float>("--sigma") { Description = "noise level σ (pixel units, [0,1] images)", Required = true };
        var n0 = new Option<int>("--n0") { Description = "draws that pick the class", DefaultValueFactory = _ => 100 };
        var n = new Option<int>("--n") { Description = "draws that estimate p_A", DefaultValueFactory = _ => 100_000 };
        var alpha = new Option<double>("--alpha") { Description = "failure probability", DefaultValueFactory = _ => 0.001 };
        var batch = new Option<int>("--batch") { Description = "noisy copies per forward pass", DefaultValueFactory = _ => 1000 };
        var samples = new Option<int?>("--samples") { Description = "certify this many test points (default: all)" };
        var skip = new Option<int>("--skip") { Description = "certify every S-th test point", DefaultValueFactory = _ => 1 };
        var radii = new Option<string>("--radii")
        {
            Description = "comma-separated l2 radii to report certified accuracy at",
            DefaultValueFactory = _ => "0,0.25,0.5,0.75,1",
        };
        var output = new Option<string?>("--out") { Description = "JSONL result file; rerunning with it resumes" };
        var curve = new Option<string?>("--curve") { Description = "write certified accuracy vs radius as CSV" };
        var plot = new Option<string?>("--plot") { Description = "draw certified accuracy vs radius as a PNG" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0UL };
        var device = BackendOption.Device();
        var tf32 = BackendOption.Tf32();
        var command = new Command("certify", "certified l2 robustness by randomized smoothing (Cohen et al. 2019)")
        {
            model, arch, data, dataDir, sigma, n0, n, alpha, batch, samples, skip, radii, output, curve, plot, seed, device,
            tf32,
        };
        command.SetAction(p => Run(new CertifyOptions(p.GetValue(model)!, p.GetValue(arch)!, p.GetValue(data)!,
            p.GetValue(dataDir), p.GetValue(sigma), p.GetValue(n0), p.GetValue(n), p.GetValue(alpha), p.GetValue(batch),
            p.GetValue(samples), p.GetValue(skip), ParseRadii(p.GetValue(radii)!), p.GetValue(output),
            p.GetValue(curve), p.GetValue(plot), p.GetValue(seed), p.GetValue(device)!, p.GetValue(tf32)),
            Provenance.CommandLine(p)));
        return command;
    }

    private sealed record CertifyOptions(string Model, string Arch, string Data, string? DataDir, float Sigma, int N0,
        int N, double Alpha, int Batch, int? Samples, int Skip, double[] Radii, string? Out, string? Curve, string? Plot,
        ulong Seed, string Device, bool Tf32);

    private static int Run(CertifyOptions o, string commandLine)
    {
        OutputPaths.InputFile("--model", o.Model, "checkpoint");
        var world = World.Current;
        if (!(o.Sigma > 0 && float.IsFinite(o.Sigma))) throw new ArgumentException($"--sigma must be > 0, got {o.Sigma}");
        Requests.Positive("--n0", o.N0);
        Requests.Positive("--n", o.N);
        if (!(o.Alpha > 0 && o.Alpha < 1)) throw new ArgumentException($"--alpha must be in (0, 1), got {o.Alpha}");
        Requests.Positive("--batch", o.Batch);
        Requests.Positive("--skip", o.Skip);
        if (o.Out is { } outPath) OutputPaths.File("--out", outPath, "certify.jsonl");
        if (o.Curve is { } curvePath) OutputPaths.File("--curve", curvePath, "curve.csv");
        if (o.Plot is { } plotPath) OutputPaths.File("--plot", plotPath, "curve.png");

        var images = Requests.NotEmpty(DataSets.LoadTest(o.Data, o.DataDir), "test set");
        int points = (images.N + o.Skip - 1) / o.Skip;
        int count = Requests.Count("--samples", o.Samples, points,
            o.Skip == 1 ? "test points" : $"test points at --skip {o.Skip}", out var note);
        Notes.Print(note);
        int[] indices = Enumerable.Range(0, count).Select(i => i * o.Skip).ToArray();
        using var backend = BackendOption.Create(o.Device, o.Tf32);
        var (mean, std) = EvalCommand.Normalization(o.Model, images);
        using var classifier = ModelZoo.Create(o.Arch, backend, images.Classes, [images.C, images.H, images.W], mean, std, 0);
        Checkpoint.Load(o.Model, classifier);
        var batch = BatchMemory.Fit(classifier, Math.Min(o.Batch, o.N0 + o.N), "--batch");
        Notes.Print(batch.Note);
        var smoothed = new SmoothedClassifier(classifier, o.Sigma, batch.Batch, o.Seed);

        var settings = new CertifySettings(Provenance.FileIdentity.Of(o.Model).Sha256, o.Arch, o.Data, o.Sigma, o.N0, o.N, o.Alpha, o.Seed, o.Skip);
        var header = new CertifyHeader(CertifyLog.Kind, settings, Path.GetFullPath(o.Model), batch.Batch, backend.DeviceName,
            Research.Training.GitCommit.OfRunningCode(), commandLine);
        using var signals = new StopSignals("stopping; the points done so far are kept");
        using var log = o.Out is null || !world.IsRoot ? null : CertifyLog.Open(o.Out, header);
        var results = new Dictionary<int, CertifyLine>();
        foreach (int i in indices)
            if (log is not null && log.Lines.TryGetValue(i, out var line))
                results[i] = line.Label == images.Labels[i] ? line : throw new InvalidDataException(
                    $"{o.Out}: point {i} has label {line.Label} but the data set says {images.Labels[i]}; is --data the same?");

        // Under mpirun every rank certifies its block of the points still to do (rank 0 read the log and says which)
        var todo = CertifyRanks.MyShare(indices.Where(i => !results.ContainsKey(i)).ToArray(), world);
        AnsiConsole.Progress().AutoClear(false).Columns(
                new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var points = ctx.AddTask("points", maxValue: Math.Max(indices.Length, 1));
                points.Value = results.Count;
                var draws = ctx.AddTask("noise draws", maxValue: o.N0 + o.N);
                var progress = new SyncProgress<int>(done => draws.Value = done);
                foreach (int i in todo)
                {
                    draws.Value = 0;
                    CertifyLine line;
                    try
                    {
                        line = CertifyPoint(smoothed, backend, images, i, o, progress, signals.Token);
                    }
                    catch (OperationCanceledException) when (signals.Received is not null)
                    {
                        break;
                    }
                    log?.Append(line);
                    results[i] = line;
                    points.Increment(1);
                    points.Description = Markup.Escape($"points (certified correct {results.Values.Count(r => r.Correct)})");
                }
            });

        if (world.Size > 1)
        {
            CertifyRanks.Collect(results, log, world);
            if (!world.IsRoot) return signals.Received is null ? 0 : signals.ExitCode; // rank 0 reports and writes
            AnsiConsole.MarkupLine($"{indices.Length} points split over {world.Size} MPI ranks, merged on rank 0");
        }
        if (signals.Received is not null)
        {
            AnsiConsole.MarkupLine(Markup.Escape(o.Out is { } kept
                ? $"stopped by {signals.Name}: {results.Count} of {indices.Length} points are in {kept} (the point in " +
                  "progress is computed again); run the same command to continue"
                : $"stopped by {signals.Name}: {results.Count} of {indices.Length} points were certified, none kept " +
                  "(no --out; give --out FILE to make a run resumable)"));
            return signals.ExitCode;
        }
        var certified = indices.Select(i => results[i].ToPoint()).ToList();
        Report(certified, o.Radii);
        if (o.Curve is { } csv) WriteCurve(csv, certified);
        if (o.Plot is { } png)
        {
            AdvRobust.Report.Charts.CertifiedAccuracy(png,
                $"Randomized smoothing, sigma {o.Sigma.ToString(CultureInfo.InvariantCulture)}, " +
                $"{certified.Count} points, N = {o.N:N0}", CertifiedAccuracy.Curve(certified));
            AnsiConsole.MarkupLine($"wrote [blue]{Markup.Escape(png)}[/]");
        }
        if (o.Out is { } path) AnsiConsole.MarkupLine($"results in [blue]{Markup.Escape(path)}[/]");
        return 0;
    }

    private static CertifyLine CertifyPoint(SmoothedClassifier smoothed, Core.IBackend backend, LabeledImages images,
        int index, CertifyOptions o, IProgress<int> progress, CancellationToken cancellation)
    {
        var watch = Stopwatch.StartNew();
        using var x = Tensor.FromArray<float>(backend, images.Image(index), 1, images.C, images.H, images.W);
        var c = smoothed.Certify(x, (uint)index, o.N0, o.N, o.Alpha, progress, cancellation);
        int label = images.Labels[index];
        return new CertifyLine(index, label, c.Predicted, c.Radius, c.Predicted == label, watch.Elapsed.TotalSeconds,
            c.Count, c.PLower);
    }

    private static void Report(IReadOnlyList<CertifiedPoint> points, double[] radii)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("l2 radius", "certified accuracy");
        foreach (var (r, accuracy) in CertifiedAccuracy.At(points, radii))
            table.AddRow(r.ToString("G4", CultureInfo.InvariantCulture), $"{100 * accuracy:F2}%");
        int abstained = points.Count(p => p.Predicted == SmoothedClassifier.Abstain);
        table.Caption($"{points.Count} points, {abstained} abstained");
        AnsiConsole.Write(table);
    }

    /// <summary>CSV "radius,certified_accuracy" at every step of the curve (see CertifiedAccuracy.Curve).</summary>
    private static void WriteCurve(string path, IReadOnlyCollection<CertifiedPoint> points)
    {
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write("radius,certified_accuracy\n");
            foreach (var (r, accuracy) in CertifiedAccuracy.Curve(points))
                writer.Write(string.Create(CultureInfo.InvariantCulture, $"{r:R},{accuracy:R}\n"));
        });
        AnsiConsole.MarkupLine($"wrote [blue]{Markup.Escape(path)}[/]");
    }

    private static double[] ParseRadii(string csv) => csv.Split(',', StringSplitOptions.TrimEntries).Select(s =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r >= 0
            ? r
            : throw new ArgumentException($"--radii takes comma-separated numbers >= 0; '{s}' is not one")).ToArray();
}
