using System.Buffers.Binary;
using System.Text.Json;
using AdvRobust.Research.Proxy;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Proxy;

/// <summary>`advrobust proxy generate` and `proxy rank` end to end on a small IDX folder written by the test
/// (random 28×28 images in 10 classes), so they need no installed data set and run in seconds.</summary>
public class ProxyCommandTests
{
    private const int Images = 160;
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("advrobust-proxy-").FullName;
        var rng = new SeededRandom(nameof(ProxyCommandTests));
        byte[] pixels = rng.Uniform(Images * 28 * 28, 0, 1).Select(v => (byte)(v * v * 255)).ToArray();
        byte[] labels = Enumerable.Range(0, Images).Select(i => (byte)(i % 10)).ToArray();
        File.WriteAllBytes(Path.Combine(_dir, "train-images-idx3-ubyte"), Idx(0x803, [Images, 28, 28], pixels));
        File.WriteAllBytes(Path.Combine(_dir, "train-labels-idx1-ubyte"), Idx(0x801, [Images], labels));
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static byte[] Idx(int magic, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    private int Generate(string kind, string file, params string[] extra) => AdvRobust.Cli.Program.Main(
        ["proxy", "generate", "--kind", kind, "--count", "96", "--data", _dir, "--out", PathOf(file), "--seed", "3",
            .. extra]);

    [Test]
    public void Generate_EachKind_WritesALabelledSetThatSaysHowItWasMade()
    {
        Assert.That(Generate("pca", "pca.npz", "--k", "3"), Is.Zero);
        Assert.That(Generate("mixup", "mixup.npz"), Is.Zero);
        Assert.That(Generate("noise", "noise.npz", "--sigma", "0.1"), Is.Zero);

        var pca = ProxySetFile.Read(PathOf("pca.npz"));
        Assert.That((pca.N, pca.C, pca.H, pca.W), Is.EqualTo((96, 1, 28, 28)));
        Assert.That(pca.Labels!.Distinct().Count(), Is.EqualTo(10));
        using var source = JsonDocument.Parse(pca.Source!);
        Assert.That(source.RootElement.GetProperty("generator").GetString(), Is.EqualTo("advrobust proxy pca"));
        Assert.That(source.RootElement.GetProperty("k").GetInt32(), Is.EqualTo(3));
        Assert.That(source.RootElement.GetProperty("seed").GetUInt64(), Is.EqualTo(3));
        Assert.That(ProxySetFile.Read(PathOf("noise.npz")).Source, Does.Contain("\"sigma\":0.1"));
    }

    [Test]
    public void Rank_TwoSets_PrintsAndWritesARankingSortedByArc()
    {
        Assert.That(Generate("noise", "close.npz", "--sigma", "0.01"), Is.Zero);
        Assert.That(Generate("pca", "far.npz", "--k", "1"), Is.Zero);
        string json = PathOf("rank.json");

        int code = AdvRobust.Cli.Program.Main(["proxy", "rank", "--data", _dir, PathOf("far.npz"), PathOf("close.npz"),
            "--eps", "0,0.1", "--samples", "48", "--test-samples", "24", "--epochs", "1", "--train-steps", "1",
            "--eval-steps", "2", "--json", json]);

        Assert.That(code, Is.Zero);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.That(root.GetProperty("Eps").EnumerateArray().Select(e => e.GetDouble()), Is.EqualTo(new[] { 0, 0.1 }));
        Assert.That(root.GetProperty("TrainPerSide").GetInt32(), Is.EqualTo(48));
        Assert.That(root.GetProperty("Settings").GetProperty("Epochs").GetInt32(), Is.EqualTo(1));
        var ranked = root.GetProperty("Ranked").EnumerateArray().ToArray();
        Assert.That(ranked, Has.Length.EqualTo(2));
        double[] arcs = ranked.Select(r => r.GetProperty("Arc").GetDouble()).ToArray();
        Assert.That(arcs, Is.Ordered.Ascending);
        Assert.That(arcs, Has.All.InRange(0.0, 1.0));
        foreach (var r in ranked)
            Assert.That(r.GetProperty("Points").GetArrayLength(), Is.EqualTo(2));
    }

    [Test]
    public void Generate_UnknownKind_ExitsWithInvalidInputCode() =>
        Assert.That(Generate("gan", "x.npz"), Is.EqualTo(2));

    [Test]
    public void Rank_MissingSet_ExitsWithFileSystemCode() =>
        Assert.That(AdvRobust.Cli.Program.Main(["proxy", "rank", "--data", _dir, PathOf("none.npz")]), Is.EqualTo(4));

    [TestCase("0,abc")]
    [TestCase("0.1,0.05")]
    public void Rank_BadEpsGrid_ExitsWithInvalidInputCode(string eps)
    {
        Assert.That(Generate("mixup", "m.npz"), Is.Zero);
        Assert.That(AdvRobust.Cli.Program.Main(["proxy", "rank", "--data", _dir, PathOf("m.npz"), "--eps", eps]),
            Is.EqualTo(2));
    }

    [Test]
    public void Rank_MoreSamplesThanTheSetHolds_ExitsWithInvalidInputCode()
    {
        Assert.That(Generate("mixup", "m.npz"), Is.Zero);
        Assert.That(AdvRobust.Cli.Program.Main(["proxy", "rank", "--data", _dir, PathOf("m.npz"), "--samples", "90",
            "--test-samples", "10"]), Is.EqualTo(2));
    }

    /// <summary>PORT through `proxy train`: a labelled proxy set mixed into every batch, then an unlabelled one that the
    /// first run's checkpoint pseudo-labels; each recorded in the manifest. Without labels or teacher it is refused.</summary>
    [Test]
    public void Train_LabelledAndPseudoLabelledProxies_TrainAndAreRecorded()
    {
        Assert.That(Generate("noise", "noise.npz", "--sigma", "0.05"), Is.Zero);
        string config = PathOf("tiny.json");
        File.WriteAllText(config, $$"""
        {
          "epochs": 1, "batchSize": 16,
          "data": { "name": "{{_dir}}", "evalSize": 16, "evalSplit": "holdout" },
          "model": { "arch": "small-cnn" },
          "objective": { "kind": "pgd-at", "settings": { "eps": 0.1, "steps": 1, "stepSize": 0.1 } },
          "optimizer": { "lr": 0.01 },
          "evaluation": { "eps": 0.1, "steps": 1, "stepSize": 0.1, "batchSize": 16 }
        }
        """);
        int Train(string run, params string[] extra) => AdvRobust.Cli.Program.Main(
            ["proxy", "train", "--config", config, "--out", PathOf(run), "--device", "cpu", .. extra]);

        Assert.That(Train("labelled", "--synthetic", PathOf("noise.npz"), "--synthetic-batch", "8"), Is.Zero);
        var manifest = AdvRobust.Research.Training.RunDirectory.Open(PathOf("labelled")).ReadManifest();
        Assert.That(manifest.Config.Data.Synthetic!.BatchSize, Is.EqualTo(8));
        Assert.That(manifest.Shape.Synthetic, Does.Contain("96 images with their own labels"));
        Assert.That(manifest.Shape.BatchesPerEpoch, Is.EqualTo(9), "min(144 real / 16, 96 proxy / 8)");

        var set = ProxySetFile.Read(PathOf("noise.npz"));
        ProxySetFile.Write(PathOf("unlabelled.npz"),
            new ProxySet(set.N, set.C, set.H, set.W, set.Images, null, set.Source, "unlabelled"));
        Assert.That(Train("pseudo", "--synthetic", PathOf("unlabelled.npz"), "--teacher",
            Path.Combine(PathOf("labelled"), "best.safetensors"), "--teacher-arch", "small-cnn", "--threshold", "0.1"),
            Is.Zero);
        var pseudo = AdvRobust.Research.Training.RunDirectory.Open(PathOf("pseudo")).ReadManifest();
        Assert.That(pseudo.Shape.Synthetic, Does.Contain("96 of 96 images pseudo-labelled"));

        Assert.That(Train("refused", "--synthetic", PathOf("unlabelled.npz")), Is.EqualTo(2));
    }
}
