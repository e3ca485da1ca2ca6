using System.Text;
using AdvRobust.Core.Serialization;

namespace AdvRobust.Research.Training;

/// <summary>
/// A run's folder and the files in it, every one written atomically (<see cref="AtomicFile"/>) except the
/// append-only metrics log:
/// <list type="bullet">
/// <item><c>manifest.json</c>: <see cref="RunManifest"/>, the resolved config and the environment;</item>
/// <item><c>metrics.jsonl</c>: one <see cref="EpochMetrics"/> line per epoch;</item>
/// <item><c>last.safetensors</c>, <c>best.safetensors</c>: model checkpoints <c>advrobust eval</c> loads (best = the
/// highest PGD accuracy on the evaluation subset);</item>
/// <item><c>resume.safetensors</c>: weights, momentum and trainer state together (<see cref="ResumeState"/>).</item>
/// </list>
/// Opening a folder (<see cref="Create"/>, <see cref="Open"/>) deletes the <c>*.tmp-&lt;pid&gt;</c> files that killed
/// atomic writes left behind (<see cref="RemoveTemporaries"/>) and says so in <see cref="OpenNotice"/>.
/// </summary>
public sealed class RunDirectory
{
    private RunDirectory(string path, bool resuming)
    {
        Path = System.IO.Path.GetFullPath(path);
        Resuming = resuming;
    }

    public string Path { get; }

    /// <summary>True for a run opened to be resumed (<see cref="Open"/>), false for a new one.</summary>
    public bool Resuming { get; }
    public string ManifestPath => File("manifest.json");
    public string MetricsPath => File("metrics.jsonl");
    public string LastPath => File("last.safetensors");
    public string BestPath => File("best.safetensors");
    public string ResumePath => File("resume.safetensors");

    public MetricsLog Metrics => new(MetricsPath);

    /// <summary>True once a resume checkpoint has been written.</summary>
    public bool CanResume => System.IO.File.Exists(ResumePath);

    /// <summary>"R is already complete (3 epochs, 18 steps): nothing to do, nothing changed" when the manifest says
    /// so, else null.</summary>
    public string? CompletedNotice()
    {
        if (!System.IO.File.Exists(ManifestPath)) return null;
        var manifest = ReadManifest();
        var (epochs, steps) = (manifest.Config.Epochs, manifest.Shape.TotalSteps);
        return manifest.Status != "completed" ? null : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{Path} is already complete ({epochs} epochs, {steps} steps): nothing to do, nothing changed");
    }

    /// <summary>What opening the folder tidied up (<see cref="RemoveTemporaries"/>), or null when nothing.</summary>
    public string? OpenNotice { get; private set; }

    /// <summary>A folder for a new run: created if needed; refused if it already holds a run.</summary>
    public static RunDirectory Create(string path)
    {
        var run = new RunDirectory(path, resuming: false);
        if (System.IO.File.Exists(run.ManifestPath))
            throw new IOException(run.CanResume
                ? $"{run.Path} already holds a run (manifest.json); continue it with --resume {path} or choose " +
                  "another --out folder"
                : $"{run.Path} already holds a run that stopped before its first checkpoint; --resume {path} " +
                  "restarts it from step 0 with the config and seed in its manifest, or choose another --out folder");
        Directory.CreateDirectory(run.Path);
        run.OpenNotice = run.RemoveTemporaries();
        return run;
    }

    /// <summary>An existing run, to resume: it must have a manifest.</summary>
    public static RunDirectory Open(string path)
    {
        var run = new RunDirectory(path, resuming: true);
        if (!Directory.Exists(run.Path)) throw new DirectoryNotFoundException($"run folder {run.Path} does not exist");
        if (!System.IO.File.Exists(run.ManifestPath))
            throw new FileNotFoundException($"{run.Path} is not a run folder: it has no manifest.json",
                run.ManifestPath);
        run.OpenNotice = run.RemoveTemporaries();
        return run;
    }

    public RunManifest ReadManifest() =>
        RunManifest.FromJson(System.IO.File.ReadAllText(ManifestPath), ManifestPath);

    public void WriteManifest(RunManifest manifest)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(manifest.ToJson() + "\n");
        AtomicFile.Write(ManifestPath, stream => stream.Write(bytes));
    }

    /// <summary>Deletes the stray <c>*.tmp-&lt;pid&gt;</c> files of writes a kill interrupted
    /// (<see cref="AtomicFile.RemoveStale"/>) and says which: "removed 2 stray temporary files of interrupted writes
    /// (36.1 MB) from R: a.tmp-12, b.tmp-12", or null when there were none.</summary>
    public string? RemoveTemporaries()
    {
        var (paths, bytes) = AtomicFile.RemoveStale(Path);
        if (paths.Count == 0) return null;
        string names = string.Join(", ", paths.Select(System.IO.Path.GetFileName));
        string files = paths.Count == 1 ? "file" : "files";
        string size = (bytes / 1e6).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        return $"removed {paths.Count} stray temporary {files} of interrupted writes ({size} MB) from {Path}: {names}";
    }

    private string File(string name) => System.IO.Path.Combine(Path, name);
}
