using System.IO.Compression;
using System.Text;
using AdvRobust.Cli.Commands;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Serialization;
using AdvRobust.Cpu;
using AdvRobust.Report;
using AdvRobust.Research.Detection;
using AdvRobust.Research.Proxy;
using AdvRobust.Research.Training;
using static AdvRobust.Fuzz.FuzzContract;

namespace AdvRobust.Fuzz;

/// <summary>One input run through a reader.</summary>
public delegate void FuzzAction(ReadOnlySpan<byte> data);

/// <summary>A fuzz target: its name (the corpus folder and the harness argument), what it reads, and the run.</summary>
public sealed record FuzzTarget(string Name, string Reads, FuzzAction Run)
{
    public override string ToString() => Name;
}

/// <summary>
/// Every reader that takes bytes from outside: checkpoints and resume states (safetensors), NPY and NPZ (proxy sets),
/// IDX plain and gzip, CIFAR-10 batches, training configs with --set overrides, certify's resumable JSONL, and the
/// run files `report` and `train --resume` read. The file-based readers get the input as a scratch file.
/// </summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("safetensors", "SafeTensors.Read and ReadFloats, every tensor's elements", SafeTensorsFile),
        new("checkpoint", "Checkpoint.Load and ResumeState.Load into a Linear + BatchNorm2d model", CheckpointFile),
        new("npy", "Npy.Read from a file and from a stream", NpyFile),
        new("npz", "ProxySetFile.Read (Npz.Read, then the proxy-set arrays)", NpzFile),
        new("idx", "IdxReader.Read of rank 1 and rank 3, plain or gzip by content", IdxFile),
        new("idx-gzip", "IdxReader.Read of rank 1 and rank 3 on the input gzip-compressed", IdxGzipFile),
        new("cifar10", "Cifar10Reader.ReadBatch", Cifar10File),
        new("config", "TrainConfig.Load with --set overrides (JSON, then a NUL byte, then one override a line)",
            ConfigFile),
        new("certify", "CertifyLog.Open of an existing certify JSONL file", CertifyFile),
        new("run-files", "report's RunReader (manifest, metrics, evaluation, detection) and train --resume's " +
            "RunManifest.FromJson and MetricsLog.Read", RunFiles),
    ];

    public static FuzzTarget Get(string name) => All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException(
            $"no fuzz target '{name}'; the targets are {string.Join(", ", All.Select(t => t.Name))}");

    private static void SafeTensorsFile(ReadOnlySpan<byte> data)
    {
        string path = Scratch.Write("input.safetensors", data);
        Expect("SafeTensors.Read", () =>
        {
            var file = SafeTensors.Read(path);
            foreach (var t in file.Tensors)
            {
                long count = t.DType switch
                {
                    "F32" => t.ToFloats().Length,
                    "I64" => t.ToInt64().Length,
                    "I32" => t.ToInt32().Length,
                    _ => t.Data.Length,
                };
                if (count != t.Count)
                    throw new FuzzFindingException($"tensor '{t.Name}': {count} elements, its shape says {t.Count}");
            }
        });
        Expect("SafeTensors.ReadFloats", () => SafeTensors.ReadFloats(path));
    }

    [ThreadStatic] private static Module? _model;

    /// <summary>The smallest model with both checkpoint dtypes: Linear(4→3) and BatchNorm2d(2) (its
    /// num_batches_tracked is I64).</summary>
    public static Module TinyModel() => _model ??= NewTinyModel();

    internal static Module NewTinyModel()
    {
        var init = new ParameterInit(new CpuBackend(), seed: 1);
        return new Sequential(new Linear(init, 4, 3), new BatchNorm2d(init, 2));
    }

    private static void CheckpointFile(ReadOnlySpan<byte> data)
    {
        string path = Scratch.Write("input.safetensors", data);
        var model = TinyModel();
        Expect("Checkpoint.Load", () => Checkpoint.Load(path, model));
        Expect("ResumeState.Load", () => ResumeState.Load(path, model));
    }

    private static void NpyFile(ReadOnlySpan<byte> data)
    {
        string path = Scratch.Write("input.npy", data);
        Expect("Npy.Read(path)", () => Npy.Read(path));
        byte[] copy = data.ToArray();
        Expect("Npy.Read(stream)", () => Npy.Read(new MemoryStream(copy, writable: false), "input"));
    }

    private static void NpzFile(ReadOnlySpan<byte> data)
    {
        string path = Scratch.Write("input.npz", data);
        Expect("ProxySetFile.Read", () => ProxySetFile.Read(path));
    }

    private static void IdxFile(ReadOnlySpan<byte> data) => ReadIdx(Scratch.Write("input-idx-ubyte", data));

    private static void IdxGzipFile(ReadOnlySpan<byte> data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        ReadIdx(Scratch.Write("input-idx-ubyte.gz", buffer.ToArray()));
    }

    private static void ReadIdx(string path)
    {
        Expect("IdxReader.Read rank 1", () => IdxReader.Read(path, 1));
        Expect("IdxReader.Read rank 3", () => IdxReader.Read(path, 3));
    }

    private static void Cifar10File(ReadOnlySpan<byte> data) =>
        Cifar10Reader.ReadBatch(Scratch.Write("data_batch_1.bin", data));

    private static void ConfigFile(ReadOnlySpan<byte> data)
    {
        int nul = data.IndexOf((byte)0);
        var json = nul < 0 ? data : data[..nul];
        string[] overrides = nul < 0 ? []
            : Encoding.UTF8.GetString(data[(nul + 1)..]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string path = Scratch.Write("config.json", json);
        TrainConfig.Load(path, overrides).ToJson();
    }

    /// <summary>The settings the certify target resumes with (the seed files are written for them). Built on use:
    /// instrumented code must not run before SharpFuzz has set up its shared memory.</summary>
    internal static CertifyHeader CertifyHeader => new(CertifyLog.Kind,
        new CertifySettings(new string('0', 64), "small-cnn", "fashion-mnist", 0.25f, 100, 1000, 0.001, 0, 1),
        "model.safetensors", 100, "cpu");

    private static void CertifyFile(ReadOnlySpan<byte> data)
    {
        string path = Scratch.Write("certify.jsonl", data);
        using var log = CertifyLog.Open(path, CertifyHeader);
        foreach (var (_, line) in log.Lines) line.ToPoint();
    }

    private static void RunFiles(ReadOnlySpan<byte> data)
    {
        string text = Encoding.UTF8.GetString(data);
        string manifest = Scratch.Write(RunReader.ManifestFile, data);
        string metrics = Scratch.Write(RunReader.MetricsFile, data);
        string evaluation = Scratch.Write(RunReader.EvaluationFile, data);
        Expect("RunReader.ReadManifest", () => RunReader.ReadManifest(manifest));
        Expect("RunReader.ReadMetrics", () => RunReader.ReadMetrics(metrics));
        Expect("RunReader.ReadEvaluation", () => RunReader.ReadEvaluation(evaluation));
        Expect("DetectionResult.FromJson", () => DetectionResult.FromJson(text, RunReader.DetectionFile));
        Expect("RunManifest.FromJson", () => RunManifest.FromJson(text, manifest));
        Expect("MetricsLog.Read", () => new MetricsLog(metrics).Read());
    }
}
