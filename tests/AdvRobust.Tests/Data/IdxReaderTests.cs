using AdvRobust.Core.Data;
using AdvRobust.Tests.Serialization;

namespace AdvRobust.Tests.Data;

public class IdxReaderTests
{
    [Test]
    public void Load_PlainFiles_ScalesPixelsBy255AndKeepsLabels()
    {
        using var files = new TestFiles();
        byte[] raw = [0, 255, 51, 102, 1, 2, 3, 4];
        string images = files.Write("img", IdxBytes.Images(2, 2, 2, i => raw[i]));
        string labels = files.Write("lbl", IdxBytes.Labels(7, 3));

        var set = IdxReader.Load(images, labels, classes: 10);

        Assert.That((set.N, set.C, set.H, set.W, set.Classes), Is.EqualTo((2, 1, 2, 2, 10)));
        Assert.That(set.Labels, Is.EqualTo(new[] { 7, 3 }));
        Assert.That(set.Pixels, Is.EqualTo(raw.Select(b => b / 255f).ToArray()));
        Assert.That(set.Pixels[1], Is.EqualTo(1f));
        Assert.That(set.Source, Is.EqualTo(images));
    }

    [Test]
    public void Load_GzipDetectedByContent_NotByName()
    {
        using var files = new TestFiles();
        // gzip content under a plain name, plain content under a .gz name: both must load.
        string images = files.Write("images.idx", TestFiles.Gzip(IdxBytes.Images(3, 4, 5)));
        string labels = files.Write("labels.gz", IdxBytes.Labels(1, 2, 0));

        var set = IdxReader.Load(images, labels, classes: 3);

        Assert.That(set.N, Is.EqualTo(3));
        Assert.That(set.Pixels[7], Is.EqualTo((7 * 7 % 256) / 255f));
        Assert.That(set.Labels, Is.EqualTo(new[] { 1, 2, 0 }));
    }

    [TestCase(0, "found 0 bytes")]
    [TestCase(3, "found 3 bytes")]
    [TestCase(4, "expected 16 bytes, found 4")]
    [TestCase(9, "expected 16 bytes, found 9")]
    [TestCase(16, "need 60 data bytes after the 16-byte header, found 0")]
    [TestCase(40, "need 60 data bytes after the 16-byte header, found 24")]
    [TestCase(75, "need 60 data bytes after the 16-byte header, found 59")]
    public void ReadImages_TruncatedPlainFile_ThrowsNamingFileAndCounts(int cut, string what)
    {
        using var files = new TestFiles();
        string path = files.Write("cut.idx", IdxBytes.Images(3, 4, 5)[..cut]);

        TestFiles.Throws<InvalidDataException>(() => IdxReader.ReadImages(path), path, "truncated", what);
    }

    [TestCase(10)]
    [TestCase(30)]
    [TestCase(0.9)]
    public void ReadImages_TruncatedGzip_ThrowsNamingFile(double keep)
    {
        using var files = new TestFiles();
        byte[] gz = TestFiles.Gzip(IdxBytes.Images(20, 8, 8, i => (byte)(i * 31 % 251)));
        int cut = keep < 1 ? (int)(gz.Length * keep) : (int)keep;
        string path = files.Write("cut.gz", gz[..cut]);

        var e = TestFiles.Throws<InvalidDataException>(() => IdxReader.ReadImages(path), path);
        Assert.That(e.Message, Does.Contain("truncated").Or.Contain("corrupt gzip"));
    }

    [Test]
    public void ReadImages_CorruptGzipBody_ThrowsNamingFile()
    {
        using var files = new TestFiles();
        byte[] gz = TestFiles.Gzip(IdxBytes.Images(20, 8, 8, i => (byte)(i * 31 % 251)));
        for (int i = 12; i < 40; i++) gz[i] ^= 0xA5;
        string path = files.Write("bad.gz", gz);

        var e = TestFiles.Throws<InvalidDataException>(() => IdxReader.ReadImages(path), path);
        Assert.That(e.Message, Does.Contain("corrupt gzip").Or.Contain("truncated").Or.Contain("trailing"));
    }

    [Test]
    public void ReadImages_GzipTrailerCrcWrong_ThrowsCorruptGzipNamingFile()
    {
        using var files = new TestFiles();
        byte[] gz = TestFiles.Gzip(IdxBytes.Images(2, 4, 4));
        gz[^6] ^= 1; // the CRC-32 of the gzip trailer (last 8 bytes: CRC-32, then the length)
        string path = files.Write("crc.gz", gz);

        TestFiles.Throws<InvalidDataException>(() => IdxReader.ReadImages(path), path, "corrupt gzip data");
    }

    [Test]
    public void ReadImages_TrailingBytes_ThrowsExpectedVsFound()
    {
        using var files = new TestFiles();
        string path = files.Write("long.idx", [.. IdxBytes.Images(3, 4, 5), 1, 2, 3]);

        TestFiles.Throws<InvalidDataException>(() => IdxReader.ReadImages(path), path, "need 60 data bytes", "found 63",
            "3 trailing bytes");
    }

    [Test]
    public void ReadImages_NotIdxMagic_Throws()
    {
        using var files = new TestFiles();
        byte[] bytes = IdxBytes.Images(1, 2, 2);
        bytes[0] = 0x50;
        string path = files.Write("png", bytes);

        TestFiles.Throws<InvalidDataException>(() => IdxReader.ReadImages(path), path, "not an IDX file", "0x50000803",
            "expected 0x00000803");
    }

    [TestCase(0x0D, "float32")]
    [TestCase(0x0C, "int32")]
    [TestCase(0x09, "signed byte")]
    public void ReadImages_UnsupportedElementType_ThrowsNamingType(int type, string typeName)
    {
        using var files = new TestFiles();
        byte[] bytes = IdxBytes.Images(1, 2, 2);
        bytes[2] = (byte)type;
        string path = files.Write("typed", bytes);

        TestFiles.Throws<InvalidDataException>(() => IdxReader.ReadImages(path), path, $"0x{type:X2}", typeName,
            "expected 0x08 (unsigned byte)");
    }

    [Test]
    public void ReadImages_LabelsFileGiven_ThrowsWrongRank()
    {
        using var files = new TestFiles();
        string path = files.Write("labels", IdxBytes.Labels(1, 2, 3));

        TestFiles.Throws<InvalidDataException>(() => IdxReader.ReadImages(path), path, "0x00000801", "rank 1",
            "expected rank 3");
    }

    [Test]
    public void Load_MismatchedImageAndLabelCounts_NamesBothFilesAndCounts()
    {
        using var files = new TestFiles();
        string images = files.Write("train-images", IdxBytes.Images(6, 2, 2));
        string labels = files.Write("train-labels", IdxBytes.Labels(1, 2, 3, 4));

        TestFiles.Throws<InvalidDataException>(() => IdxReader.Load(images, labels, 10), labels, images,
            "holds 4 labels", "6 images", "expected 6 labels");
    }

    [Test]
    public void Load_LabelOutOfRange_NamesFileAndIndex()
    {
        using var files = new TestFiles();
        string images = files.Write("i", IdxBytes.Images(3, 2, 2));
        string labels = files.Write("l", IdxBytes.Labels(1, 12, 3));

        TestFiles.Throws<InvalidDataException>(() => IdxReader.Load(images, labels, 10), labels, "label 12 at index 1",
            "[0, 10)");
    }

    [Test]
    public void Load_WrongImageSize_ThrowsExpectedVsFound()
    {
        using var files = new TestFiles();
        string images = files.Write("i", IdxBytes.Images(2, 3, 3));
        string labels = files.Write("l", IdxBytes.Labels(1, 2));

        TestFiles.Throws<InvalidDataException>(
            () => IdxReader.Load(images, labels, 10, expectedHeight: 28, expectedWidth: 28), images, "3×3",
            "expected 28×28");
    }
}
