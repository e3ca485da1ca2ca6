using AdvRobust.Core.Serialization;

namespace AdvRobust.Tests.Serialization;

public class NpzTests
{
    private static readonly byte[] WeightsNpy =
        NpyBytes.File(NpyBytes.Dict("<f4", "(2, 2)"), NpyBytes.Floats(1, 2, 3, 4));
    private static readonly byte[] LabelsNpy = NpyBytes.File(NpyBytes.Dict("|u1", "(3,)"), [7, 8, 9]);

    [TestCase(ZipBytes.Stored, false)]   // numpy.savez (Python's zipfile with force_zip64)
    [TestCase(ZipBytes.Stored, true)]
    [TestCase(ZipBytes.Deflated, false)] // numpy.savez_compressed
    [TestCase(ZipBytes.Deflated, true)]
    public void Read_HandBuiltArchive_ReturnsArraysInOrder(ushort method, bool zip64Local)
    {
        using var files = new TestFiles();
        byte[] zip = ZipBytes.Archive([("w.npy", WeightsNpy), ("y.npy", LabelsNpy)], method, zip64Local);
        string path = files.Write("a.npz", zip);

        var arrays = Npz.Read(path);

        Assert.That(arrays.Keys, Is.EqualTo(new[] { "w", "y" }));
        Assert.That(arrays["w"].Shape, Is.EqualTo(new[] { 2, 2 }));
        Assert.That(arrays["w"].AsFloat(), Is.EqualTo(new[] { 1f, 2, 3, 4 }));
        Assert.That(arrays["y"].AsBytes(), Is.EqualTo(new byte[] { 7, 8, 9 }));
    }

    [Test]
    public void WriteRead_ThreeDtypes_RoundTripsAsDeflatedEntries()
    {
        using var files = new TestFiles();
        string path = files.PathOf("out.npz");
        var zeros = new float[1000];
        var input = new Dictionary<string, NpyArray>
        {
            ["x"] = NpyArray.Create([10, 100], zeros),
            ["labels"] = NpyArray.Create([4], new byte[] { 0, 1, 2, 9 }),
            ["idx"] = NpyArray.Create([2, 1], new[] { 5, -6 }),
        };

        Npz.Write(path, input);

        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(BitConverter.ToUInt16(bytes, 8), Is.EqualTo(ZipBytes.Deflated), "first entry's method");
        Assert.That(bytes.Length, Is.LessThan(4000 / 2), "1000 zero floats compress");
        var back = Npz.Read(path);
        Assert.That(back.Keys, Is.EqualTo(new[] { "x", "labels", "idx" }));
        Assert.That(back["x"].AsFloat(), Is.EqualTo(zeros));
        Assert.That(back["labels"].AsBytes(), Is.EqualTo(new byte[] { 0, 1, 2, 9 }));
        Assert.That((back["idx"].Shape, back["idx"].AsInt32()), Is.EqualTo((new[] { 2, 1 }, new[] { 5, -6 })));
        Assert.That(File.Exists(AtomicFile.TempPath(Path.GetFullPath(path))), Is.False);
    }

    [Test]
    public void Read_NotAZip_ThrowsNamingFile()
    {
        using var files = new TestFiles();
        string path = files.Write("a.npz", WeightsNpy);

        TestFiles.Throws<InvalidDataException>(() => Npz.Read(path), path, "not a valid .npz (zip) archive");
    }

    [Test]
    public void Read_TruncatedArchive_ThrowsNamingFile()
    {
        using var files = new TestFiles();
        byte[] zip = ZipBytes.Archive([("w.npy", WeightsNpy)], ZipBytes.Stored);
        string path = files.Write("cut.npz", zip[..(zip.Length - 30)]);

        TestFiles.Throws<InvalidDataException>(() => Npz.Read(path), path);
    }

    [Test]
    public void Read_CorruptDeflatedEntry_ThrowsNamingEntry()
    {
        using var files = new TestFiles();
        byte[] zip = ZipBytes.Archive([("w.npy", WeightsNpy)], ZipBytes.Deflated);
        int dataStart = 30 + "w.npy".Length;
        for (int i = dataStart; i < dataStart + 12; i++) zip[i] ^= 0xFF;
        string path = files.Write("bad.npz", zip);

        TestFiles.Throws<InvalidDataException>(() => Npz.Read(path), path, "entry w.npy");
    }

    [TestCase(ZipBytes.Stored)]
    [TestCase(ZipBytes.Deflated)]
    public void Read_FlippedBitInEntryData_ThrowsCrcMismatchNamingEntry(ushort method)
    {
        using var files = new TestFiles();
        byte[] corrupted = (byte[])WeightsNpy.Clone();
        corrupted[130] ^= 1; // a bit of the first float: still a well-formed .npy, but not the bytes that were zipped
        byte[] zip = ZipBytes.Archive([("w.npy", corrupted)], method);
        uint goodCrc = ZipBytes.Crc32(WeightsNpy);
        BitConverter.GetBytes(goodCrc).CopyTo(zip, 14); // local header
        int central = zip.Length - 22 - (46 + "w.npy".Length);
        BitConverter.GetBytes(goodCrc).CopyTo(zip, central + 16); // central directory
        string path = files.Write("flip.npz", zip);

        TestFiles.Throws<InvalidDataException>(() => Npz.Read(path), path, "entry w.npy", "CRC-32 mismatch",
            $"0x{goodCrc:X8}");
    }

    [Test]
    public void Read_BadArrayInside_ThrowsNamingEntryAndProblem()
    {
        using var files = new TestFiles();
        byte[] fortran = NpyBytes.File(NpyBytes.Dict("<f4", "(1,)", fortran: true), NpyBytes.Floats(1));
        byte[] cut = WeightsNpy[..(WeightsNpy.Length - 3)];
        string a = files.Write("f.npz",
            ZipBytes.Archive([("ok.npy", LabelsNpy), ("f.npy", fortran)], ZipBytes.Deflated));
        string b = files.Write("t.npz", ZipBytes.Archive([("w.npy", cut)], ZipBytes.Stored));
        string c = files.Write("x.npz", ZipBytes.Archive([("notes.txt", [1, 2])], ZipBytes.Stored));

        TestFiles.Throws<InvalidDataException>(() => Npz.Read(a), a, "entry f.npy", "fortran_order is True");
        TestFiles.Throws<InvalidDataException>(() => Npz.Read(b), b, "entry w.npy", "needs 16 bytes, found 13");
        TestFiles.Throws<InvalidDataException>(() => Npz.Read(c), c, "entry notes.txt", "not a .npy entry");
    }
}
