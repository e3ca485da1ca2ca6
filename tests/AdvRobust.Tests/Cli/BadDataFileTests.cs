using System.Text;
using AdvRobust.Tests.Data;
using AdvRobust.Tests.Serialization;

namespace AdvRobust.Tests.Cli;

/// <summary>
/// Issue 11 §5: bad files of each kind, generated here, go through the command that reads them (`advrobust eval`)
/// and exit 2 with a message naming the file and the fault, never a stack trace: IDX (plain and gzip) and CIFAR-10
/// test sets, and safetensors checkpoints. Truncated files, lying headers, overflowing dimensions, wrong dtypes,
/// empty sets and damaged gzip trailers.
/// </summary>
[NonParallelizable]
public class BadDataFileTests
{
    private TestFiles _files = null!;

    [SetUp]
    public void SetUp() => _files = new TestFiles();

    [TearDown]
    public void TearDown() => _files.Dispose();

    /// <summary>`eval` on a test set in <paramref name="folder"/>; the data set is read before the checkpoint.</summary>
    private string Eval(string folder, string model, params string[] fragments) =>
        CliRun.AssertInvalid(["eval", "--model", model, "--arch", "small-cnn", "--data", folder, "--eps", "0.1",
            "--samples", "2"], fragments);

    private string AnyModel() => _files.Write("model.safetensors", [0]);

    /// <summary>A Fashion-MNIST-style test split of two 28×28 images.</summary>
    private string IdxFolder(byte[]? images = null, byte[]? labels = null, bool gzip = false)
    {
        string dir = _files.PathOf("idx");
        images ??= IdxBytes.Images(2, 28, 28);
        labels ??= IdxBytes.Labels(1, 2);
        _files.Write("idx/t10k-images-idx3-ubyte" + (gzip ? ".gz" : ""), gzip ? TestFiles.Gzip(images) : images);
        _files.Write("idx/t10k-labels-idx1-ubyte", labels);
        return dir;
    }

    private string ImagesPath(bool gzip = false) => _files.PathOf("idx/t10k-images-idx3-ubyte" + (gzip ? ".gz" : ""));

    [Test]
    public void Idx_TruncatedImages_ExitsTwoNamingFileAndSizes()
    {
        byte[] images = IdxBytes.Images(2, 28, 28);
        Eval(IdxFolder(images[..^100]), AnyModel(), ImagesPath(), "truncated", "need 1568 data bytes", "found 1468");
    }

    [Test]
    public void Idx_LyingCount_ExitsTwoWithoutAllocatingWhatItClaims()
    {
        string dir = IdxFolder(IdxBytes.File(0x803, [1_000_000, 28, 28], new byte[1568]));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Eval(dir, AnyModel(), ImagesPath(), "truncated", "need 784000000 data bytes", "found 1568");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64L << 20), "the 784 MB array");
    }

    [Test]
    public void IdxGzip_LyingCount_AllocatesWhatTheDataHoldsNotWhatTheHeaderClaims()
    {
        string dir = IdxFolder(IdxBytes.File(0x803, [1_000_000, 28, 28], new byte[1568]), gzip: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        // Refused from the header alone: 46 gzip bytes cannot inflate to 784 MB (deflate's limit is about 1032:1).
        Eval(dir, AnyModel(), ImagesPath(gzip: true), "truncated", "need 784000000 data bytes", "can inflate to");
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(64L << 20), "the 784 MB array");
    }

    [Test]
    public void Idx_OverflowingDimensions_ExitsTwo() =>
        Eval(IdxFolder(IdxBytes.File(0x803, [65536, 65536, 28], [])), AnyModel(), ImagesPath(),
            "exceed the largest array");

    [Test]
    public void Idx_Float32Elements_ExitsTwoNamingTheType() =>
        Eval(IdxFolder(IdxBytes.File(0xD03, [2, 28, 28], new byte[4 * 1568])), AnyModel(), ImagesPath(),
            "element type 0x0D (float32) is not supported");

    [Test]
    public void Idx_NoImages_ExitsTwoSayingTheSetIsEmpty() =>
        Eval(IdxFolder(IdxBytes.File(0x803, [0, 28, 28], []), IdxBytes.Labels()), AnyModel(), ImagesPath(),
            "holds no images");

    [Test]
    public void IdxGzip_CrcMismatch_SaysCrcNotCompressionMethod()
    {
        byte[] gz = TestFiles.Gzip(IdxBytes.Images(2, 28, 28));
        gz[^8] ^= 0x01;
        string dir = IdxFolder(gzip: true);
        File.WriteAllBytes(ImagesPath(gzip: true), gz);
        string error = Eval(dir, AnyModel(), ImagesPath(gzip: true), "corrupt gzip data: CRC-32 mismatch");
        Assert.That(error, Does.Not.Contain("unsupported compression method"));
    }

    [Test]
    public void IdxGzip_LengthMismatch_SaysLength()
    {
        byte[] gz = TestFiles.Gzip(IdxBytes.Images(2, 28, 28));
        gz[^4] ^= 0x01;
        string dir = IdxFolder(gzip: true);
        File.WriteAllBytes(ImagesPath(gzip: true), gz);
        Eval(dir, AnyModel(), ImagesPath(gzip: true), "corrupt gzip data: length mismatch", "the trailer records 1585 bytes",
            "inflates to 1584");
    }

    [Test]
    public void IdxGzip_NotDeflate_SaysTheMethod()
    {
        byte[] gz = TestFiles.Gzip(IdxBytes.Images(2, 28, 28));
        gz[2] = 7;
        string dir = IdxFolder(gzip: true);
        File.WriteAllBytes(ImagesPath(gzip: true), gz);
        Eval(dir, AnyModel(), ImagesPath(gzip: true), "corrupt gzip data: the header's compression method 7 is not deflate (8)");
    }

    [Test]
    public void IdxGzip_TruncatedInTheMiddle_ExitsTwoSayingTruncated()
    {
        byte[] gz = TestFiles.Gzip(IdxBytes.Images(2, 28, 28, i => (byte)(i * 131 % 251)));
        string dir = IdxFolder(gzip: true);
        File.WriteAllBytes(ImagesPath(gzip: true), gz[..(gz.Length / 2)]);
        Eval(dir, AnyModel(), ImagesPath(gzip: true), "truncated");
    }

    private string CifarFolder(byte[] testBatch)
    {
        _files.Write("cifar/test_batch.bin", testBatch);
        return _files.PathOf("cifar");
    }

    [Test]
    public void Cifar_TruncatedRecord_ExitsTwoNamingFileAndLeftover() =>
        Eval(CifarFolder(new byte[3073 + 100]), AnyModel(), "test_batch.bin", "not a multiple of the 3073-byte record",
            "100 bytes left over");

    [Test]
    public void Cifar_EmptyFile_ExitsTwo() =>
        Eval(CifarFolder([]), AnyModel(), "test_batch.bin", "empty file");

    [Test]
    public void Cifar_LabelOutOfRange_ExitsTwoNamingTheRecord()
    {
        var bytes = new byte[2 * 3073];
        bytes[3073] = 10;
        Eval(CifarFolder(bytes), AnyModel(), "test_batch.bin", "record 1", "has label 10");
    }

    /// <summary>A safetensors file: the 8-byte header length, the JSON header, the data.</summary>
    private string Checkpoint(string header, byte[] data, ulong? declaredLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        byte[] bytes = [.. BitConverter.GetBytes(declaredLength ?? (ulong)json.Length), .. json, .. data];
        return _files.Write("bad.safetensors", bytes);
    }

    private const string OneTensor = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    [Test]
    public void SafeTensors_TruncatedData_ExitsTwoNamingTensor()
    {
        string model = Checkpoint(OneTensor, new byte[4]);
        Eval(IdxFolder(), model, model, "tensor 'w'", "run past the data section, which has 4 bytes");
    }

    [Test]
    public void SafeTensors_HeaderLengthPastTheFile_ExitsTwo()
    {
        string model = Checkpoint(OneTensor, new byte[8], declaredLength: 1000);
        Eval(IdxFolder(), model, model, "header length 1000 runs past the end of the file");
    }

    [Test]
    public void SafeTensors_HugeHeaderLength_ExitsTwoWithoutAllocatingIt()
    {
        string model = Checkpoint(OneTensor, new byte[8], declaredLength: 1UL << 40);
        Eval(IdxFolder(), model, model, "header length 1099511627776 exceeds the");
    }

    [Test]
    public void SafeTensors_OverflowingShape_ExitsTwo()
    {
        string model = Checkpoint(
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,8],\"data_offsets\":[0,8]}}", new byte[8]);
        Eval(IdxFolder(), model, model, "tensor 'w'", "overflows");
    }

    [Test]
    public void SafeTensors_UnsupportedDtype_ExitsTwo()
    {
        string model = Checkpoint("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]);
        Eval(IdxFolder(), model, model, "tensor 'w'", "dtype 'F16' is not supported");
    }

    [Test]
    public void SafeTensors_NoTensors_ExitsTwoNamingTheMissingOnes()
    {
        string model = Checkpoint("{}", []);
        Eval(IdxFolder(), model, model, "missing");
    }

    [Test]
    public void SafeTensors_BinaryHeader_IsQuotedEscapedAndShort()
    {
        var header = new byte[0xFFFF];
        for (int i = 0; i < header.Length; i++) header[i] = (byte)(1 + i % 30); // control characters
        string model = _files.Write("bad.safetensors", [.. BitConverter.GetBytes((ulong)header.Length), .. header,]);
        string error = Eval(IdxFolder(), model, model, "header does not start with '{'", "\\x01\\x02");
        Assert.That(error.Where(c => c < ' ' && c != '\n' && c != '\r'), Is.Empty, "no raw control characters");
        Assert.That(error.Length, Is.LessThan(600));
    }

    [Test]
    public void SafeTensors_NormalizeMetadataNotNumbers_ExitsTwoNamingKey()
    {
        string model = Checkpoint("{\"__metadata__\":{\"normalize.mean\":\"0.5\",\"normalize.std\":\"abc\"}}", []);
        Eval(IdxFolder(), model, model, "metadata 'normalize.std' = 'abc'", "is not a number");
    }
}
