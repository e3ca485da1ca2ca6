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

    /// <summary>A folder for a new run: created if needed; refused if it already holds a run.</summary>
    public static RunDirectory Create(string path)
    {
        var run = new RunDirectory(path, resuming: false);
        if (System.IO.File.Exists(run.ManifestPath))
            throw new IOException($"{run.Path} already holds a run (manifest.json); continue it with --resume " +
                                  $"{path} or choose another --out folder");
        Directory.CreateDirectory(run.Path);
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
        return run;
    }

    public RunManifest ReadManifest() =>
        RunManifest.FromJson(System.IO.File.ReadAllText(ManifestPath), ManifestPath);

    public void WriteManifest(RunManifest manifest)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(manifest.ToJson() + "\n");
        AtomicFile.Write(ManifestPath, stream => stream.Write(bytes));
    }

    private string File(string name) => System.IO.Path.Combine(Path, name);
}
