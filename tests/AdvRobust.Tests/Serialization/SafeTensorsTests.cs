using System.Text;
using AdvRobust.Core.Serialization;

namespace AdvRobust.Tests.Serialization;

public class SafeTensorsTests
{
    /// <summary>8-byte little-endian header length, the header padded with spaces to a multiple of 8, the
    /// data.</summary>
    private static byte[] File(string json, byte[] data, bool pad = true)
    {
        string header = pad ? json + new string(' ', (8 - json.Length % 8) % 8) : json;
        byte[] text = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)text.Length), .. text, .. data];
    }

    private static byte[] Floats(params float[] v) => NpyBytes.Floats(v);

    private static (string, string, int[], ReadOnlyMemory<byte>) T(string name, string dtype, int[] shape,
        byte[] data) => (name, dtype, shape, data);

    [Test]
    public void Read_FileAsPythonSafetensorsWritesIt_ReadsTensor()
    {
        // Exactly what safetensors.torch.save_file({"w": torch.tensor([1.5, -2.0])}) writes: a 54-byte compact
        // header padded with 2 spaces to 56, then 8 bytes of little-endian float32.
        using var files = new TestFiles();
        string path = files.Write("w.safetensors",
            File("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", Floats(1.5f, -2f)));
        Assert.That(BitConverter.ToUInt64(System.IO.File.ReadAllBytes(path)), Is.EqualTo(56));

        var file = SafeTensors.Read(path);

        Assert.That(file.Tensors, Has.Count.EqualTo(1));
        Assert.That((file["w"].DType, file["w"].Shape), Is.EqualTo(("F32", new[] { 2 })));
        Assert.That(file.GetFloats("w"), Is.EqualTo(new[] { 1.5f, -2f }));
        Assert.That(file.Metadata, Is.Empty);
    }

    // The byte-exact expectations of the reference implementation's own serialization tests
    // (huggingface/safetensors, safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement).
    [TestCase("attn.0", new[] { 1, 2, 3 }, 64)]
    [TestCase("attn0", new[] { 1, 1, 2, 3 }, 72)]
    public void Serialize_OneTensor_MatchesReferenceBytes(string name, int[] shape, int headerLength)
    {
        byte[] data = Floats(0, 1, 2, 3, 4, 5);
        string dims = string.Join(",", shape);
        string json = $"{{\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{dims}],\"data_offsets\":[0,24]}}}}";

        byte[] bytes = SafeTensors.Serialize([T(name, "F32", shape, data)]);

        Assert.That(bytes, Is.EqualTo(File(json, data)));
        Assert.That(BitConverter.ToUInt64(bytes), Is.EqualTo((ulong)headerLength));
    }

    [Test]
    public void Serialize_NoTensors_MatchesReferenceBytes()
    {
        Assert.That(SafeTensors.Serialize([]), Is.EqualTo(File("{}", [])));
        Assert.That(SafeTensors.Serialize([], new Dictionary<string, string> { ["framework"] = "pt" }),
            Is.EqualTo(File("{\"__metadata__\":{\"framework\":\"pt\"}}", [])));
        Assert.That(SafeTensors.Serialize([]).Length, Is.EqualTo(16));
    }

    [Test]
    public void Write_MixedDtypes_OrdersByAlignmentThenNameAndAlignsData()
    {
        using var files = new TestFiles();
        string path = files.PathOf("m.safetensors");

        SafeTensors.Write(path,
        [
            T("a", "U8", [3], [1, 2, 3]),
            T("b", "F32", [1], Floats(2)),
            T("c", "I64", [2], [.. BitConverter.GetBytes(-1L), .. BitConverter.GetBytes(5L)]),
            T("d", "I32", [1], BitConverter.GetBytes(-7)),
            T("a2", "F32", [2], Floats(3, 4)),
        ], new Dictionary<string, string> { ["format"] = "pt", ["step"] = "100" });

        var file = SafeTensors.Read(path);
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "c", "a2", "b", "d", "a" }));
        Assert.That(file["c"].ToInt64(), Is.EqualTo(new[] { -1L, 5 }));
        Assert.That(file["d"].ToInt32(), Is.EqualTo(new[] { -7 }));
        Assert.That(file["a"].Data.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(file.Metadata, Is.EqualTo(new Dictionary<string, string> { ["format"] = "pt", ["step"] = "100" }));
        ulong n = BitConverter.ToUInt64(System.IO.File.ReadAllBytes(path));
        Assert.That(n % 8, Is.EqualTo(0));
        string header = Encoding.UTF8.GetString(System.IO.File.ReadAllBytes(path), 8, (int)n);
        Assert.That(header, Does.StartWith("{\"__metadata__\":{\"format\":\"pt\",\"step\":\"100\"},\"c\":"));
        Assert.That(header, Does.Contain("\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[32,35]}}"));
        using var json = System.Text.Json.JsonDocument.Parse(header);
        foreach (var t in file.Tensors)
        {
            long begin = json.RootElement.GetProperty(t.Name).GetProperty("data_offsets")[0].GetInt64();
            Assert.That((8 + (long)n + begin) % SafeTensors.ElementSize(t.DType), Is.EqualTo(0), $"{t.Name} aligned");
        }
    }

    [Test]
    public void WriteRead_FloatOverloads_RoundTrip()
    {
        using var files = new TestFiles();
        string path = files.PathOf("f.safetensors");
        var w = new[] { 0.25f, -1e-30f, float.PositiveInfinity, 3 };

        SafeTensors.Write(path, new List<(string, int[], float[])> { ("layer.weight", [2, 2], w), ("bias", [0], []) });

        var read = SafeTensors.ReadFloats(path);
        Assert.That(read.Keys, Is.EquivalentTo(new[] { "layer.weight", "bias" }));
        Assert.That(read["layer.weight"].Shape, Is.EqualTo(new[] { 2, 2 }));
        Assert.That(read["layer.weight"].Data, Is.EqualTo(w));
        Assert.That(read["bias"].Data, Is.Empty);
    }

    [Test]
    public void Write_ExistingFile_IsReplacedAndNoTempLeft()
    {
        using var files = new TestFiles();
        string path = files.Write("ckpt.safetensors", [1, 2, 3]);

        SafeTensors.Write(path, new List<(string, int[], float[])> { ("w", [1], [7f]) });

        Assert.That(SafeTensors.Read(path).GetFloats("w"), Is.EqualTo(new[] { 7f }));
        Assert.That(Directory.GetFiles(files.Folder), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void Write_InvalidTensor_ThrowsAndKeepsExistingFile()
    {
        using var files = new TestFiles();
        string path = files.PathOf("ckpt.safetensors");
        SafeTensors.Write(path, new List<(string, int[], float[])> { ("w", [1], [7f]) });
        byte[] before = System.IO.File.ReadAllBytes(path);

        TestFiles.Throws<ArgumentException>(() => SafeTensors.Write(path, [T("w", "F32", [3], Floats(1, 2))]),
            path, "tensor 'w'", "needs 12 bytes, the data has 8");
        TestFiles.Throws<ArgumentException>(() => SafeTensors.Write(path, [T("w", "F16", [1], [0, 0])]),
            "dtype 'F16' is not supported");
        TestFiles.Throws<ArgumentException>(
            () => SafeTensors.Write(path, [T("w", "U8", [1], [0]), T("w", "U8", [1], [0])]),
            "duplicate tensor name 'w'");

        Assert.That(System.IO.File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(files.Folder), Has.Length.EqualTo(1));
    }

    [Test]
    public void Read_TruncatedAtSeveralCutPoints_ThrowsNamingFile()
    {
        using var files = new TestFiles();
        byte[] full = File("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", Floats(1, 2));
        (int Cut, string What)[] cases =
        [
            (0, "0 bytes is too short"), (7, "7 bytes is too short"), (8, "header length 56 runs past the end"),
            (40, "the file has 40 bytes"), (64, "run past the data section, which has 0 bytes"),
            (68, "run past the data section, which has 4 bytes"),
        ];
        foreach (var (cut, what) in cases)
        {
            string path = files.Write($"cut{cut}.safetensors", full[..cut]);
            TestFiles.Throws<InvalidDataException>(() => SafeTensors.Read(path), path, what);
        }
    }

    // Headers are written with ' for readability; the test turns them into " before writing the file.
    [TestCase("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},'b':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}",
        12, "tensor 'b' data_offsets [4,8] overlap tensor 'a'")]
    [TestCase("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},'b':{'dtype':'F32','shape':[1],'data_offsets':[8,12]}}",
        12, "tensor 'b' starts at 8 but the data before it ends at 4 (tensor 'a'): a gap of 4 bytes")]
    [TestCase("{'a':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}",
        8, "tensor 'a' starts at 4 but the data before it ends at 0")]
    [TestCase("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",
        12, "the data section has 12 bytes but the tensors cover 4")]
    [TestCase("{'a':{'dtype':'F32','shape':[3],'data_offsets':[0,8]}}",
        8, "tensor 'a': shape [3] of F32 needs 12 bytes, but data_offsets [0,8] span 8")]
    [TestCase("{'a':{'dtype':'F32','shape':[4],'data_offsets':[0,16]}}",
        8, "tensor 'a': data_offsets [0,16] run past the data section, which has 8 bytes")]
    [TestCase("{'a':{'dtype':'F32','shape':[1],'data_offsets':[8,4]}}",
        8, "tensor 'a': data_offsets [8,4] are not 0 <= begin <= end")]
    [TestCase("{'a':{'dtype':'F32','shape':[1],'data_offsets':['0',4]}}",
        4, "tensor 'a': data_offsets [\"0\",4] are not")]
    [TestCase("{'a':{'dtype':'C64','shape':[1],'data_offsets':[0,8]}}",
        8, "tensor 'a': dtype 'C64' is not supported")]
    [TestCase("{'a':{'dtype':'F32','shape':[-1],'data_offsets':[0,4]}}",
        4, "tensor 'a': shape [-1] has an invalid dimension -1")]
    [TestCase("{'a':{'dtype':'F32','shape':[1]}}", 4, "tensor 'a': missing \"data_offsets\"")]
    [TestCase("{'a':[1,2]}", 4, "tensor 'a': expected an object")]
    [TestCase("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",
        4, "the header names 'a' twice")]
    [TestCase("{'__metadata__':{'epoch':3}}", 0, "__metadata__ 'epoch' is a Number, expected a string")]
    [TestCase("{'a':{'dtype':'F32',", 0, "header is not valid JSON")]
    [TestCase("[{'a':1}]", 0, "header does not start with '{'")]
    public void Read_InvalidHeader_ThrowsNamingFileAndTensor(string json, int dataBytes, string what)
    {
        using var files = new TestFiles();
        string path = files.Write("bad.safetensors", File(json.Replace('\'', '"'), new byte[dataBytes]));

        TestFiles.Throws<InvalidDataException>(() => SafeTensors.Read(path), path, what);
    }

    [Test]
    public void Read_HeaderLengthBeyondLimitOrNotUtf8_Throws()
    {
        using var files = new TestFiles();
        byte[] huge = [.. BitConverter.GetBytes(200_000_000UL), .. "{}      "u8.ToArray()];
        byte[] latin = [.. BitConverter.GetBytes(8UL), (byte)'{', 0xFF, 0xFE, (byte)'}', 32, 32, 32, 32];
        string a = files.Write("huge.safetensors", huge), b = files.Write("latin.safetensors", latin);

        TestFiles.Throws<InvalidDataException>(() => SafeTensors.Read(a), a, "header length 200000000 exceeds");
        TestFiles.Throws<InvalidDataException>(() => SafeTensors.Read(b), b, "not valid UTF-8");
    }

    [Test]
    public void Entry_WrongTypeOrMissingName_ThrowsNamingTensor()
    {
        using var files = new TestFiles();
        byte[] bytes = SafeTensors.Serialize([T("idx", "I32", [1], BitConverter.GetBytes(3))]);
        string path = files.Write("a.safetensors", bytes);
        var file = SafeTensors.Read(path);

        Assert.That(Assert.Throws<InvalidOperationException>(() => file["idx"].ToFloats())!.Message,
            Does.Contain("tensor 'idx' has dtype I32, not F32"));
        Assert.That(Assert.Throws<KeyNotFoundException>(() => _ = file["w"])!.Message,
            Does.Contain(path).And.Contain("no tensor named 'w'"));
        TestFiles.Throws<InvalidDataException>(() => SafeTensors.ReadFloats(path), path, "tensor 'idx' has dtype I32");
    }
}
