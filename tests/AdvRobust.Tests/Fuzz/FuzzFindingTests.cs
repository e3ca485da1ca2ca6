using AdvRobust.Cli.Commands;
using AdvRobust.Core.Data;
using AdvRobust.Core.Serialization;
using AdvRobust.Fuzz;
using AdvRobust.Tests.Data;
using AdvRobust.Tests.Serialization;

namespace AdvRobust.Tests.Fuzz;

/// <summary>What the fuzzer found (tests/AdvRobust.Fuzz/README.md lists each), one focused test per fix: a header
/// that lies about a size is an error before the reader allocates that size, and malformed files are bad input.
/// </summary>
public class FuzzFindingTests
{
    private const long Small = 4 << 20;  // far below what the lying headers claim

    /// <summary>Runs <paramref name="read"/>, expecting InvalidDataException, and returns the bytes it allocated.
    /// </summary>
    private static long AllocatedBy(Action read, params string[] fragments)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        TestFiles.Throws<InvalidDataException>(read, fragments);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Test]
    public void NpyRead_HeaderLengthPastTheEnd_ThrowsBeforeAllocatingIt()
    {
        using var files = new TestFiles();
        // Version 3.0 with a header length of 0x00FFFF9E (16 MiB) in an 18-byte file.
        string path = files.Write("x.npy", [0x93, .. "NUMPY"u8, 3, 0, 0x9E, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0]);
        Assert.That(AllocatedBy(() => Npy.Read(path), path, "truncated header"), Is.LessThan(Small));
    }

    [Test]
    public void NpyRead_ShapeLargerThanTheFile_ThrowsBeforeAllocatingIt()
    {
        using var files = new TestFiles();
        string path = files.Write("x.npy", NpyBytes.File(NpyBytes.Dict("<f4", "(100000000,)"), NpyBytes.Floats(1)));
        Assert.That(AllocatedBy(() => Npy.Read(path), path, "truncated data", "400000000"), Is.LessThan(Small));
        using var stream = new MemoryStream(File.ReadAllBytes(path));
        Assert.That(AllocatedBy(() => Npy.Read(stream, "x"), "truncated data"), Is.LessThan(Small));
    }

    [Test]
    public void NpzRead_EntryShapeLargerThanTheEntry_ThrowsBeforeAllocatingIt()
    {
        using var files = new TestFiles();
        byte[] npy = NpyBytes.File(NpyBytes.Dict("|u1", "(300000000,)"), [1, 2, 3]);
        foreach (ushort method in new[] { ZipBytes.Stored, ZipBytes.Deflated })
        {
            string path = files.Write($"x{method}.npz", ZipBytes.Archive([("images.npy", npy)], method));
            Assert.That(AllocatedBy(() => Npz.Read(path), path, "images.npy", "truncated data"), Is.LessThan(Small));
        }
    }

    [Test]
    public void IdxRead_DimensionsLargerThanThePlainFile_ThrowBeforeAllocatingThem()
    {
        using var files = new TestFiles();
        string path = files.Write("images", IdxBytes.File(IdxReader.ImagesMagic, [8, 20000, 10000], [1, 2, 3]));
        Assert.That(AllocatedBy(() => IdxReader.Read(path, 3), path, "truncated", "1600000000", "found 3"),
            Is.LessThan(Small));
    }

    [Test]
    public void IdxRead_DimensionsLargerThanGzipCanInflateTo_ThrowBeforeAllocatingThem()
    {
        using var files = new TestFiles();
        string path = files.Write("labels.gz", TestFiles.Gzip(IdxBytes.File(IdxReader.LabelsMagic, [800000000], [1])));
        Assert.That(AllocatedBy(() => IdxReader.Read(path, 1), path, "truncated", "gzip"), Is.LessThan(Small));
    }

    [Test]
    public void IdxRead_GzipWithinTheDeflateBound_StillReads()
    {
        using var files = new TestFiles();
        var labels = new byte[200_000];  // zeros compress about 1000:1, close to deflate's limit
        string path = files.Write("labels.gz", TestFiles.Gzip(IdxBytes.Labels(labels)));
        Assert.That(IdxReader.ReadLabels(path), Has.Length.EqualTo(labels.Length));
    }

    [Test]
    public void CertifyLogOpen_OnlyEmptyLines_ThrowsInvalidDataNamingTheFile()
    {
        using var files = new TestFiles();
        string path = files.Write("cert.jsonl", "\n\n{\"torn"u8.ToArray());
        TestFiles.Throws<InvalidDataException>(() => CertifyLog.Open(path, FuzzTargets.CertifyHeader).Dispose(),
            path, "not an advrobust certify file");
        Assert.That(File.ReadAllBytes(path), Is.EqualTo("\n\n{\"torn"u8.ToArray()), "the file is left as it was");
    }
}
