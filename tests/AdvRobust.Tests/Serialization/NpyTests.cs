using AdvRobust.Core.Serialization;

namespace AdvRobust.Tests.Serialization;

public class NpyTests
{
    [Test]
    public void Read_HandBuiltVersion1Float32_ReturnsShapeAndValues()
    {
        using var files = new TestFiles();
        byte[] bytes = NpyBytes.File(NpyBytes.Dict("<f4", "(2, 3)"), NpyBytes.Floats(0, 1, 2, 3.5f, -4, 5));
        string path = files.Write("a.npy", bytes);

        var a = Npy.Read(path);

        Assert.That(a.DType, Is.EqualTo("<f4"));
        Assert.That(a.Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(a.AsFloat(), Is.EqualTo(new[] { 0f, 1, 2, 3.5f, -4, 5 }));
    }

    [Test]
    public void Read_HandBuiltVersion2Int64_Reads()
    {
        using var files = new TestFiles();
        byte[] data = new long[] { -1, 1L << 40, 7 }.SelectMany(BitConverter.GetBytes).ToArray();
        string path = files.Write("a.npy", NpyBytes.File(NpyBytes.Dict("<i8", "(3,)"), data, major: 2));

        Assert.That(Npy.Read(path).AsInt64(), Is.EqualTo(new[] { -1, 1L << 40, 7 }));
    }

    [Test]
    public void Read_EveryDtypeAndShapeSpelling_Reads()
    {
        using var files = new TestFiles();
        var u1 = Npy.Read(files.Write("u1.npy", NpyBytes.File(NpyBytes.Dict("|u1", "(2L, 2L)"), [1, 2, 3, 255])));
        string keysReordered = "{\"descr\": \"<i4\", \"shape\": (1,), \"fortran_order\": False}";
        var i4 = Npy.Read(files.Write("i4.npy", NpyBytes.File(keysReordered, BitConverter.GetBytes(-5))));
        var f8 = Npy.Read(files.Write("f8.npy",
            NpyBytes.File(NpyBytes.Dict("<f8", "()"), BitConverter.GetBytes(2.25))));
        var v3 = Npy.Read(files.Write("v3.npy", NpyBytes.File(NpyBytes.Dict("<f4", "(0, 4)"), [], major: 3)));

        Assert.That((u1.Shape, u1.AsBytes()), Is.EqualTo((new[] { 2, 2 }, new byte[] { 1, 2, 3, 255 })));
        Assert.That(i4.AsInt32(), Is.EqualTo(new[] { -5 }));
        Assert.That((f8.Shape, f8.AsDouble()), Is.EqualTo((Array.Empty<int>(), new[] { 2.25 })));
        Assert.That((v3.Shape, v3.Count), Is.EqualTo((new[] { 0, 4 }, 0L)));
    }

    [Test]
    public void WriteRead_EveryDtype_RoundTripsWithAlignedHeader()
    {
        using var files = new TestFiles();
        NpyArray[] arrays =
        [
            NpyArray.Create([2, 2], new[] { 1.5f, -0f, float.MaxValue, float.Epsilon }),
            NpyArray.Create([3], new byte[] { 0, 128, 255 }),
            NpyArray.Create([1, 2, 1], new[] { int.MinValue, 42 }),
            NpyArray.Create([2], new[] { long.MaxValue, -3L }),
            NpyArray.Create([], new[] { Math.PI }),
        ];
        foreach (var a in arrays)
        {
            string path = files.PathOf($"{a.DType.Substring(1)}.npy");
            Npy.Write(path, a);
            byte[] bytes = File.ReadAllBytes(path);
            int headerLength = bytes[8] | bytes[9] << 8;

            Assert.That(bytes[6..8], Is.EqualTo(new byte[] { 1, 0 }), "version 1.0");
            Assert.That((10 + headerLength) % 64, Is.EqualTo(0), "data starts 64-byte aligned");
            Assert.That(bytes[10 + headerLength - 1], Is.EqualTo((byte)'\n'));
            var back = Npy.Read(path);
            Assert.That(back.DType, Is.EqualTo(a.DType));
            Assert.That(back.Shape, Is.EqualTo(a.Shape));
            Assert.That(back.Data, Is.EqualTo(a.Data));
        }
    }

    [Test]
    public void Write_HeaderOver64KiB_UsesVersion2()
    {
        using var files = new TestFiles();
        int[] shape = Enumerable.Repeat(1, 25_000).ToArray(); // "1, " × 25,000 ≈ 75 KB of header
        string path = files.PathOf("wide.npy");

        Npy.Write(path, NpyArray.Create(shape, new[] { 9f }));

        Assert.That(File.ReadAllBytes(path)[6], Is.EqualTo(2));
        var back = Npy.Read(path);
        Assert.That((back.Shape.Length, back.AsFloat()[0]), Is.EqualTo((25_000, 9f)));
    }

    [TestCase("<f4", "(2,)", true, "fortran_order is True")]
    [TestCase(">f4", "(2,)", false, "big-endian dtype '>f4'")]
    [TestCase("<f2", "(2,)", false, "dtype '<f2' is not supported")]
    [TestCase("<f4", "(2, -1)", false, "expected a non-negative integer")]
    [TestCase("<f4", "[2]", false, "structured dtypes are not supported")]
    public void Read_UnsupportedHeader_ThrowsNamingFileAndProblem(string descr, string shape, bool fortran, string what)
    {
        using var files = new TestFiles();
        string path = files.Write("bad.npy", NpyBytes.File(NpyBytes.Dict(descr, shape, fortran), new byte[8]));

        TestFiles.Throws<InvalidDataException>(() => Npy.Read(path), path, what);
    }

    [TestCase("{'descr': '<f4', 'shape': (2,), }", "missing key 'fortran_order'")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': True}", "unexpected key 'x'")]
    [TestCase("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected '}' but the header ended")]
    [TestCase("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "unexpected '0'")]
    public void Read_MalformedDict_ThrowsBadHeader(string dict, string what)
    {
        using var files = new TestFiles();
        string path = files.Write("bad.npy", NpyBytes.File(dict, new byte[8]));

        TestFiles.Throws<InvalidDataException>(() => Npy.Read(path), path, "bad .npy header", what);
    }

    [TestCase(0, "not a .npy file")]
    [TestCase(5, "not a .npy file")]
    [TestCase(9, "expected a 2-byte header length, found 1")]
    [TestCase(40, "expected 118 header bytes, found 30")]
    [TestCase(128, "needs 24 bytes, found 0")]
    [TestCase(141, "needs 24 bytes, found 13")]
    public void Read_TruncatedFile_ThrowsExpectedVsFound(int cut, string what)
    {
        using var files = new TestFiles();
        byte[] full = NpyBytes.File(NpyBytes.Dict("<f4", "(2, 3)"), NpyBytes.Floats(0, 1, 2, 3, 4, 5));
        Assert.That(full.Length, Is.EqualTo(128 + 24));
        string path = files.Write("cut.npy", full[..cut]);

        TestFiles.Throws<InvalidDataException>(() => Npy.Read(path), path, what);
    }

    [Test]
    public void Read_TrailingBytesOrFutureVersion_Throws()
    {
        using var files = new TestFiles();
        byte[] full = NpyBytes.File(NpyBytes.Dict("<f4", "(1,)"), NpyBytes.Floats(1, 2));
        string trailing = files.Write("long.npy", full);
        byte[] v4 = NpyBytes.File(NpyBytes.Dict("<f4", "(1,)"), NpyBytes.Floats(1));
        v4[6] = 4;
        string future = files.Write("v4.npy", v4);

        TestFiles.Throws<InvalidDataException>(() => Npy.Read(trailing), trailing, "needs 4 data bytes, found more");
        TestFiles.Throws<InvalidDataException>(() => Npy.Read(future), future, "version 4.0 is not supported");
    }

    [Test]
    public void Accessor_WrongType_ThrowsNamingBothDtypes()
    {
        var a = NpyArray.Create([2], new[] { 1, 2 });

        var e = Assert.Throws<InvalidOperationException>(() => a.AsFloat())!;

        Assert.That(e.Message, Does.Contain("'<f4'").And.Contain("'<i4'").And.Contain("AsInt32()"));
        Assert.Throws<ArgumentException>(() => NpyArray.Create([3], new[] { 1f, 2f }));
    }
}
