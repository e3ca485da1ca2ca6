using AdvRobust.Core.Data;
using AdvRobust.Tests.Serialization;

namespace AdvRobust.Tests.Data;

public class Cifar10ReaderTests
{
    private static byte[] Records(params byte[] labels)
    {
        var bytes = new byte[labels.Length * Cifar10Reader.RecordBytes];
        for (int r = 0; r < labels.Length; r++)
        {
            int at = r * Cifar10Reader.RecordBytes;
            bytes[at] = labels[r];
            for (int i = 0; i < Cifar10Reader.PixelBytes; i++) bytes[at + 1 + i] = (byte)((i + 17 * r) % 256);
        }
        return bytes;
    }

    [Test]
    public void ReadBatch_HandBuiltRecords_ChwPixelsScaledAndLabels()
    {
        using var files = new TestFiles();
        string path = files.Write("data_batch_1.bin", Records(3, 9));

        var set = Cifar10Reader.ReadBatch(path);

        Assert.That((set.N, set.C, set.H, set.W, set.Classes), Is.EqualTo((2, 3, 32, 32, 10)));
        Assert.That(set.Labels, Is.EqualTo(new[] { 3, 9 }));
        // Record byte 1 + c·1024 + y·32 + x is pixel (c, y, x): CHW order is kept as is.
        int c = 2, y = 5, x = 30, i = c * 1024 + y * 32 + x;
        Assert.That(set.Image(1)[i], Is.EqualTo(((i + 17) % 256) / 255f));
        Assert.That(set.Pixels[i], Is.EqualTo((i % 256) / 255f));
    }

    [TestCase(3072)]
    [TestCase(3074)]
    [TestCase(2 * 3073 - 1)]
    public void ReadBatch_LengthNotMultipleOfRecord_ThrowsNamingFile(int length)
    {
        using var files = new TestFiles();
        string path = files.Write("test_batch.bin", Records(1, 2)[..length]);

        TestFiles.Throws<InvalidDataException>(() => Cifar10Reader.ReadBatch(path), path, $"length {length} bytes",
            "not a multiple of the 3073-byte record", $"{length % 3073} bytes left over");
    }

    [Test]
    public void ReadBatch_EmptyFile_Throws()
    {
        using var files = new TestFiles();
        string path = files.Write("test_batch.bin", []);

        TestFiles.Throws<InvalidDataException>(() => Cifar10Reader.ReadBatch(path), path, "empty");
    }

    [Test]
    public void ReadBatch_LabelTen_ThrowsNamingRecord()
    {
        using var files = new TestFiles();
        string path = files.Write("data_batch_2.bin", Records(0, 1, 10));

        TestFiles.Throws<InvalidDataException>(() => Cifar10Reader.ReadBatch(path), path, "record 2",
            $"byte offset {2 * 3073}", "label 10", "expected 0..9");
    }

    [Test]
    public void Load_TrainFromDirTestFromDataRoot_ConcatenatesBatchesInOrder()
    {
        using var files = new TestFiles();
        for (int b = 1; b <= 5; b++) files.Write($"cifar/data_batch_{b}.bin", Records((byte)b, (byte)(b - 1)));
        files.Write("root/cifar-10-batches-bin/test_batch.bin", Records(7));

        var train = Cifar10Reader.Load(files.PathOf("cifar"), train: true);
        var test = Cifar10Reader.Load(null, train: false, dataRoot: files.PathOf("root"));

        Assert.That(train.Labels, Is.EqualTo(new[] { 1, 0, 2, 1, 3, 2, 4, 3, 5, 4 }));
        Assert.That(train.Source, Is.EqualTo(files.PathOf("cifar")));
        Assert.That(test.Labels, Is.EqualTo(new[] { 7 }));
    }

    [Test]
    public void Load_MissingBatch_ThrowsFileNotFoundNamingItWithHint()
    {
        using var files = new TestFiles();
        for (int b = 1; b <= 4; b++) files.Write($"cifar/data_batch_{b}.bin", Records(1));

        TestFiles.Throws<FileNotFoundException>(() => Cifar10Reader.Load(files.PathOf("cifar"), train: true),
            Path.Combine(files.PathOf("cifar"), "data_batch_5.bin"), "cifar-10-binary.tar.gz", "--data DIR");
    }
}
