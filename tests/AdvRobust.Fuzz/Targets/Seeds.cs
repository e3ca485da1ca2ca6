using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using AdvRobust.Cli.Commands;
using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Serialization;
using AdvRobust.Research.Detection;
using AdvRobust.Research.Proxy;
using AdvRobust.Research.Training;

namespace AdvRobust.Fuzz;

/// <summary>
/// The seed corpus: small valid files for every target, made by the project's own writers (so they follow the
/// formats as written), plus the shipped training presets. `AdvRobust.Fuzz seeds DIR` writes them to DIR/TARGET/;
/// the committed copy is tests/AdvRobust.Fuzz/corpus.
/// </summary>
public static class Seeds
{
    public static IEnumerable<(string Target, string Name, byte[] Bytes)> All(string configsDir)
    {
        foreach (var (name, bytes) in SafeTensorsSeeds()) yield return ("safetensors", name, bytes);
        foreach (var (name, bytes) in CheckpointSeeds()) yield return ("checkpoint", name, bytes);
        foreach (var (name, bytes) in NpySeeds()) yield return ("npy", name, bytes);
        foreach (var (name, bytes) in NpzSeeds()) yield return ("npz", name, bytes);
        foreach (var (name, bytes) in IdxSeeds(gzip: false)) yield return ("idx", name, bytes);
        foreach (var (name, bytes) in IdxSeeds(gzip: true)) yield return ("idx", name + ".gz", bytes);
        foreach (var (name, bytes) in IdxSeeds(gzip: false)) yield return ("idx-gzip", name, bytes);
        yield return ("cifar10", "two-records.bin", Cifar10Seed());
        foreach (string file in Directory.GetFiles(configsDir, "*.json").Order(StringComparer.Ordinal))
        {
            byte[] json = File.ReadAllBytes(file);
            yield return ("config", Path.GetFileName(file), json);
            yield return ("config", Path.GetFileNameWithoutExtension(file) + "-set.json", [.. json, 0, ..
                Encoding.UTF8.GetBytes("epochs=3\noptimizer.schedule.milestones=1,2\nobjective.settings.eps=0.05\n" +
                    "data.synthetic={\"path\":\"s.npz\"}\nmodel.mean=null\n")]);
        }
        foreach (var (name, bytes) in CertifySeeds()) yield return ("certify", name, bytes);
        foreach (var (name, bytes) in RunFileSeeds()) yield return ("run-files", name, bytes);
    }

    private static byte[] Bytes<T>(params T[] values) where T : unmanaged =>
        MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    private static IEnumerable<(string, byte[])> SafeTensorsSeeds()
    {
        yield return ("four-dtypes.safetensors", SafeTensors.Serialize(
        [
            ("w", "F32", [2, 3], Bytes(1f, 2f, 3f, 4f, 5f, 6f)),
            ("n", "I64", [], Bytes(7L)),
            ("i", "I32", [2, 1], Bytes(-1, 1)),
            ("u", "U8", [3], new byte[] { 0, 128, 255 }),
            ("empty", "F32", [0, 4], Array.Empty<byte>()),
        ], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "seed" }));
        yield return ("no-tensors.safetensors", SafeTensors.Serialize([]));
    }

    private static IEnumerable<(string, byte[])> CheckpointSeeds()
    {
        using var model = FuzzTargets.NewTinyModel();
        yield return ("tiny.safetensors", WithFile(path => Checkpoint.Save(path, model)));
        yield return ("tiny-resume.safetensors", WithFile(path => ResumeState.Save(path, model, TrainerState.Start)));
    }

    private static IEnumerable<(string, byte[])> NpySeeds()
    {
        NpyArray[] arrays =
        [
            NpyArray.Create([2, 3], new float[] { 0, 0.5f, 1, -1, 2, 3 }),
            NpyArray.Create([4], new byte[] { 0, 1, 254, 255 }),
            NpyArray.Create([1, 2], new[] { 5, -5 }),
            NpyArray.Create([], new[] { 42L }),
            NpyArray.Create([2, 0, 2], Array.Empty<double>()),
        ];
        foreach (var a in arrays)
        {
            using var stream = new MemoryStream();
            Npy.Write(stream, a);
            string shape = a.Shape.Length == 0 ? "scalar" : string.Join('x', a.Shape);
            yield return ($"{a.DType[1..]}-{shape}.npy", stream.ToArray());
        }
    }

    private static IEnumerable<(string, byte[])> NpzSeeds()
    {
        var set = new ProxySet(2, 1, 2, 2, [0, 64, 128, 255, 1, 2, 3, 4], [0, 1], "{\"kind\":\"seed\"}", "seed");
        yield return ("proxy-set.npz", WithFile(path => ProxySetFile.Write(path, set)));
        // numpy.savez (not _compressed) stores its entries: one stored entry with an unlabelled N×H×W set.
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var entry = zip.CreateEntry(ProxySetFile.ImagesKey + ".npy", CompressionLevel.NoCompression).Open();
            Npy.Write(entry, NpyArray.Create([1, 2, 2], new byte[] { 9, 8, 7, 6 }));
        }
        yield return ("stored-images.npz", stream.ToArray());
    }

    private static IEnumerable<(string, byte[])> IdxSeeds(bool gzip)
    {
        var images = new byte[4 + 12 + 2 * 3 * 3];
        BinaryPrimitives.WriteInt32BigEndian(images, 0x803);
        for (int d = 0; d < 3; d++) BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4 + 4 * d), d == 0 ? 2 : 3);
        for (int i = 16; i < images.Length; i++) images[i] = (byte)(i * 13);
        var labels = new byte[] { 0, 0, 8, 1, 0, 0, 0, 3, 1, 9, 4 };
        yield return ("images-2x3x3-idx3-ubyte", gzip ? Gzip(images) : images);
        yield return ("labels-3-idx1-ubyte", gzip ? Gzip(labels) : labels);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(data);
        return buffer.ToArray();
    }

    private static byte[] Cifar10Seed()
    {
        var bytes = new byte[2 * 3073];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7);
        (bytes[0], bytes[3073]) = (3, 9);
        return bytes;
    }

    private static IEnumerable<(string, byte[])> CertifySeeds()
    {
        byte[] file = WithFile(path =>
        {
            using var log = CertifyLog.Open(path, FuzzTargets.CertifyHeader);
            log.Append(new CertifyLine(0, 7, 7, 0.31, true, 0.5, 998, 0.97));
            log.Append(new CertifyLine(1, 2, -1, 0, false, 0.4, 480, 0.41));
        });
        yield return ("two-points.jsonl", file);
        yield return ("torn-tail.jsonl", [.. file, .. "{\"index\":2,\"lab"u8]);
    }

    private static IEnumerable<(string, byte[])> RunFileSeeds()
    {
        var config = TrainConfig.Parse("{}", "seed");
        var env = new RunEnvironment("advrobust train", "cpu", "cpu (2 cores)", false, false, ".NET 10", "Linux",
            "X64", 2, new Dictionary<string, string> { ["cuda"] = "none" });
        var manifest = new RunManifest(RunManifest.CurrentFormat, "completed", DateTimeOffset.UnixEpoch,
            DateTimeOffset.UnixEpoch.AddHours(1), 1, "0123456789abcdef", env, config,
            new ObjectiveRecord("standard", JsonDocument.Parse("{\"eps\":0.1}").RootElement.Clone()),
            new RunShape("SmallCnn", 1000, 100, "fashion-mnist", 10, "test", 2, 4),
            [new RunResumption(DateTimeOffset.UnixEpoch, 1, 2, "0123456789abcdef", env)]);
        yield return ("manifest.json", Encoding.UTF8.GetBytes(manifest.ToJson()));
        var epoch = new EpochMetrics(1, 2, 0.1, 0.7, new Dictionary<string, double> { ["ce"] = 0.7 }, 0.5, 100, 0.6,
            0.3, 10, true, 1.5, 1, 0.5, 66.7);
        yield return ("metrics.jsonl", Encoding.UTF8.GetBytes(epoch.ToJsonLine() + "\n" +
            (epoch with { Epoch = 2, TrainLoss = 0.5, Best = false }).ToJsonLine() + "\n"));
        yield return ("evaluation.json", """
            {"Model":"SmallCnn","Samples":10,"CleanAccuracy":0.9,"RobustAccuracy":0.4,
             "Attacks":[{"Name":"pgd","Norm":"linf","Eps":0.1,"Accuracy":0.4}]}
            """u8.ToArray());
        var roc = new RocCurve([0, 0, 1], [0, 0.5, 1], [double.PositiveInfinity, 0.8, 0.1], 0.75, 2, 2);
        var measured = new AttackDetection("pgd-linf", PgdNorm.Linf, 0.1f,
            new PgdSettings(PgdNorm.Linf, 0.1f, 0.01f, 10), 4, 3, 2, 2, 0.5, roc, null, 1);
        var detection = new DetectionResult("SmallCnn", "cpu", 5, 100, 4, 3, 0.75, [measured], 2);
        yield return ("detection.json", Encoding.UTF8.GetBytes(detection.ToJson()));
    }

    /// <summary>The bytes a writer puts in a file.</summary>
    private static byte[] WithFile(Action<string> write)
    {
        string path = Path.Combine(Scratch.Dir, "seed");
        if (File.Exists(path)) File.Delete(path);
        write(path);
        return File.ReadAllBytes(path);
    }
}
