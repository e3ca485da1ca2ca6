using System.Text;
using AdvRobust.Tests.Serialization;

namespace AdvRobust.Tests.Cli;

/// <summary>
/// Issue 11 §5, continued: bad NPZ proxy sets (and the NPY arrays inside them) through `advrobust proxy rank`, bad
/// training configs through `advrobust train`, and bad run files through `advrobust report`; each exits 2 with a
/// message naming the file and the fault. Zip bombs are refused without inflating them.
/// </summary>
[NonParallelizable]
public class BadInputFileTests
{
    private TestFiles _files = null!;

    [SetUp]
    public void SetUp() => _files = new TestFiles();

    [TearDown]
    public void TearDown() => _files.Dispose();

    /// <summary>`proxy rank` reads its sets before the real data set, so no data set is needed.</summary>
    private static string Rank(string set, params string[] fragments) =>
        CliRun.AssertInvalid(["proxy", "rank", "--data", "fashion-mnist", set], [set, .. fragments]);

    private string Npz(byte[] npy, string name = "images.npy", ushort method = ZipBytes.Deflated,
        uint? declaredSize = null) =>
        _files.Write("set.npz", ZipBytes.Archive([(name, npy)], method, declaredSize: declaredSize));

    private static byte[] Images(string shape, int bytes, string descr = "|u1") =>
        NpyBytes.File(NpyBytes.Dict(descr, shape), new byte[bytes]);

    [Test]
    public void Npy_TruncatedData_ExitsTwoNamingEntry() =>
        Rank(Npz(Images("(2, 28, 28)", 1000)), "entry images.npy", "truncated data", "needs 1568 bytes, found 1000");

    [Test]
    public void Npy_LyingShape_ExitsTwoWithoutAllocatingIt()
    {
        string set = Npz(Images("(1000, 1000, 1000)", 784));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Rank(set, "entry images.npy", "needs 1000000000 bytes, found 784");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64L << 20), "the 1 GB array");
    }

    [Test]
    public void Npy_OverflowingShape_ExitsTwo() =>
        Rank(Npz(Images("(100000, 100000, 1000)", 784)), "entry images.npy", "is too large for one array");

    [Test]
    public void Npy_UnsupportedDtype_ExitsTwo() =>
        Rank(Npz(Images("(2, 28, 28)", 2 * 1568, "<f2")), "entry images.npy", "dtype '<f2' is not supported");

    [Test]
    public void Npy_FloatImages_ExitsTwoAskingForUint8() =>
        Rank(Npz(Images("(1, 28, 28)", 4 * 784, "<f4")), "array 'images' has dtype '<f4', expected uint8");

    [Test]
    public void Npy_NoImages_ExitsTwoSayingTheSetIsEmpty() =>
        Rank(Npz(Images("(0, 28, 28)", 0)), "holds no images (N = 0)");

    [Test]
    public void Npy_BinaryHeaderOf64KiB_IsQuotedEscapedAndShort()
    {
        // A version-1.0 header of the largest length, 0xFFFF bytes, of binary junk: the message quotes at most 60
        // characters, escaped, instead of dumping the header to the terminal.
        var npy = new byte[10 + 0xFFFF];
        "?NUMPY"u8.ToArray().CopyTo(npy, 0);
        npy[0] = 0x93; // the magic's first byte is not ASCII
        (npy[6], npy[7], npy[8], npy[9]) = (1, 0, 0xFF, 0xFF);
        for (int i = 10; i < npy.Length; i++) npy[i] = (byte)(i * 37 % 256);
        npy[10] = (byte)'{';
        string error = Rank(Npz(npy), "entry images.npy", "bad .npy header", "characters in all");
        Assert.That(error.Where(c => c < ' ' && c != '\n' && c != '\r'), Is.Empty, "no raw control characters");
        Assert.That(error.Count(c => c > '~'), Is.LessThan(5), "non-ASCII bytes are escaped, not echoed");
        Assert.That(error.Length, Is.LessThan(800));
    }

    [Test]
    public void Npz_ZipBombDeclaringGigabytes_IsRefusedBeforeInflating()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Rank(Npz(Images("(2, 28, 28)", 1568), declaredSize: 0xFFFF0000), "entry images.npy", "zip bomb",
            "at most 1032:1");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64L << 20));
    }

    [Test]
    public void Npz_EntryInflatingFarBeyondItsDeclaredSize_IsRefusedWithoutInflatingIt()
    {
        // 64 MiB of zeros after a one-image array deflate to ~64 KB; the archive declares only the array's size.
        byte[] real = Images("(1, 28, 28)", 784);
        byte[] bomb = [.. real, .. new byte[64 << 20]];
        long before = GC.GetAllocatedBytesForCurrentThread();
        string set = Npz(bomb, declaredSize: (uint)real.Length);
        long afterWriting = GC.GetAllocatedBytesForCurrentThread();
        Rank(set, "entry images.npy");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - afterWriting, Is.LessThan(16L << 20),
            $"reading allocated too much (writing the fixture took {(afterWriting - before) >> 20} MiB)");
    }

    [Test]
    public void Npz_TruncatedArchive_ExitsTwo()
    {
        byte[] zip = ZipBytes.Archive([("images.npy", Images("(2, 28, 28)", 1568))], ZipBytes.Deflated);
        Rank(_files.Write("set.npz", zip[..(zip.Length / 2)]), "not a valid .npz (zip) archive");
    }

    [Test]
    public void Npz_DamagedDeflateData_SaysSoNotUnsupportedMethod()
    {
        byte[] zip = ZipBytes.Archive([("images.npy", Images("(2, 28, 28)", 1568))], ZipBytes.Deflated);
        int dataStart = 30 + "images.npy".Length;
        for (int i = dataStart; i < dataStart + 12; i++) zip[i] ^= 0xFF;
        string error = Rank(_files.Write("set.npz", zip), "entry images.npy", "the compressed data is damaged");
        Assert.That(error, Does.Not.Contain("unsupported compression method"));
    }

    [Test]
    public void Npz_CorruptEntry_ExitsTwoWithCrcMismatch()
    {
        byte[] npy = Images("(2, 28, 28)", 1568);
        byte[] zip = ZipBytes.Archive([("images.npy", npy)], ZipBytes.Stored);
        zip[30 + "images.npy".Length + npy.Length - 1] ^= 0xFF; // last data byte of the stored entry
        Rank(_files.Write("set.npz", zip), "entry images.npy", "CRC-32 mismatch");
    }

    private string Train(string configText, params string[] fragments)
    {
        string config = _files.Write("config.json", Encoding.UTF8.GetBytes(configText));
        return CliRun.AssertInvalid(["train", "--config", config, "--out", _files.PathOf("run")], [config, .. fragments]);
    }

    [Test]
    public void Config_Truncated_ExitsTwo() => Train("{\"epochs\": 2", "not valid JSON");

    [Test]
    public void Config_Empty_ExitsTwo() => Train("", "not valid JSON");

    [Test]
    public void Config_DuplicateKey_ExitsTwoNamingKeyAndBothLines() =>
        Train("{\n  \"epochs\": 2,\n  \"optimizer\": {\"lr\": 0.1,\n    \"lr\": 0.2}\n}",
            "key 'optimizer.lr' is given twice, on line 3 and line 4");

    [Test]
    public void Config_WrongType_ExitsTwoNamingKey() => Train("{\"epochs\": \"abc\"}", "'epochs' must be an integer");

    [Test]
    public void ConfigSet_DuplicateKeyInJsonValue_ExitsTwoNamingKey() =>
        CliRun.AssertInvalid(["train", "--config", _files.Write("c.json", "{}"u8.ToArray()), "--set",
            "optimizer={\"lr\":1,\"lr\":2}", "--out", _files.PathOf("run")], "--set optimizer",
            "key 'optimizer.lr' is given twice");

    private string Report(string file, string text, params string[] fragments)
    {
        string path = _files.Write("run/" + file, Encoding.UTF8.GetBytes(text));
        return CliRun.AssertInvalid(["report", _files.PathOf("run"), "--out", _files.PathOf("out")], [path, .. fragments]);
    }

    private const string DetectionHead =
        "{\"Model\":\"m\",\"Device\":\"cpu\",\"K\":5,\"ReferenceSamples\":10,\"TestSamples\":10,\"CleanCorrect\":5," +
        "\"CleanAccuracy\":0.5,\"TotalSeconds\":1";

    [Test]
    public void Report_DetectionWithoutAttacks_NamesTheField() =>
        Report("detection.json", DetectionHead + "}", "the required field 'Attacks' is missing");

    [Test]
    public void Report_DetectionAttackMissingAField_NamesItsPath() =>
        Report("detection.json", DetectionHead + ",\"Attacks\":[{\"Name\":\"pgd\",\"Norm\":\"Linf\",\"Eps\":0.1}]}",
            "the required field 'Attacks[0].Settings' is missing");

    [Test]
    public void Report_DetectionWrongType_NamesFieldAndValue() =>
        Report("detection.json", DetectionHead.Replace("\"K\":5", "\"K\":\"five\"") + ",\"Attacks\":[]}",
            "field 'K' must be a non-negative integer, got the string \"five\"");

    [Test]
    public void Report_CorruptMetricsLine_NamesTheLine() =>
        // A torn LAST line is what a killed run leaves, and report skips it (ReportTests); a bad line before the
        // last is damage, and is named.
        Report("metrics.jsonl", "{\"epoch\":1,\"trainLoss\":0.5}\n{\"epoch\":2,\"trainL\n{\"epoch\":3}\n", "line 2",
            "invalid JSON");

    [Test]
    public void Report_EvaluationMissingAField_NamesIt() =>
        Report("evaluation.json", "{\"CleanAccuracy\":0.9,\"RobustAccuracy\":0.5}",
            "the required field 'Samples' is missing");

    [Test]
    public void Report_ManifestNotAnObject_ExitsTwo() =>
        Report("manifest.json", "[1, 2]", "the manifest must be a JSON object");
}
