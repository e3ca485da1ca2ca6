using System.Text;
using AdvRobust.Research.Proxy;
using AdvRobust.Core.Serialization;
using AdvRobust.Tests.Serialization;

namespace AdvRobust.Tests.Proxy;

/// <summary>The proxy-set .npz format: round trip, the accepted variants, and an error naming file, array and fault
/// for each thing that can be wrong.</summary>
public class ProxySetFileTests
{
    private static readonly byte[] Pixels = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 10)).ToArray();

    private static string WriteArrays(TestFiles files, params (string Key, NpyArray Array)[] arrays)
    {
        string path = files.PathOf("set.npz");
        Npz.Write(path, arrays.Select(a => new KeyValuePair<string, NpyArray>(a.Key, a.Array)));
        return path;
    }

    [Test]
    public void WriteRead_LabelledSetWithSource_RoundTrips()
    {
        using var files = new TestFiles();
        string path = files.PathOf("proxy.npz");
        var set = new ProxySet(2, 1, 3, 4, Pixels, [7, 0], "{\"generator\":\"tëst\"}", "in memory");

        ProxySetFile.Write(path, set);
        var back = ProxySetFile.Read(path);

        Assert.That((back.N, back.C, back.H, back.W), Is.EqualTo((2, 1, 3, 4)));
        Assert.That(back.Images, Is.EqualTo(Pixels));
        Assert.That(back.Labels, Is.EqualTo(new[] { 7, 0 }));
        Assert.That(back.Source, Is.EqualTo("{\"generator\":\"tëst\"}"));
        Assert.That(back.Name, Is.EqualTo(path));
        var raw = Npz.Read(path);
        Assert.That(raw["images"].Shape, Is.EqualTo(new[] { 2, 1, 3, 4 }), "always written N×C×H×W");
        Assert.That(raw["labels"].DType, Is.EqualTo(NpyArray.Int64), "labels written as numpy's default int64");
    }

    [Test]
    public void Read_ThreeDimensionalImagesInt32LabelsAndExtraArrays_IsOneChannelSet()
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("images", NpyArray.Create([2, 3, 4], Pixels)),
            ("labels", NpyArray.Create([2], new[] { 3, 4 })), ("logits", NpyArray.Create([2], new float[2])));

        var set = ProxySetFile.Read(path);

        Assert.That((set.N, set.C, set.H, set.W), Is.EqualTo((2, 1, 3, 4)));
        Assert.That(set.Labels, Is.EqualTo(new[] { 3, 4 }));
        Assert.That(set.Source, Is.Null);
        Assert.That(set.ToPixels()[1], Is.EqualTo(10 / 255f));
    }

    [Test]
    public void Read_UnlabelledSet_HasNullLabels_AndCannotBecomeTrainingImages()
    {
        using var files = new TestFiles();
        var set = ProxySetFile.Read(WriteArrays(files, ("images", NpyArray.Create([2, 1, 3, 4], Pixels))));
        Assert.That(set.Labels, Is.Null);
        Assert.That(() => set.ToLabeledImages(10), Throws.InvalidOperationException.With.Message.Contains("no labels"));
    }

    [Test]
    public void ToLabeledImages_LabelBeyondClasses_Throws()
    {
        var set = new ProxySet(2, 1, 3, 4, Pixels, [1, 12], null, "two images");
        Assert.That(() => set.ToLabeledImages(10),
            Throws.ArgumentException.With.Message.Contains("label 12 of image 1"));
        Assert.That(set.ToLabeledImages(13).Labels, Is.EqualTo(new[] { 1, 12 }));
    }

    [Test]
    public void Read_NoImagesArray_ListsTheArraysFound()
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("x", NpyArray.Create([2, 3, 4], Pixels)),
            ("y", NpyArray.Create([2], new long[2])));
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path, "no 'images' array", "x, y");
    }

    [Test]
    public void Read_FloatImages_SaysToStoreUint8()
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("images", NpyArray.Create([2, 3, 4], new float[24])));
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path, "'images'", "'<f4'", "uint8");
    }

    [TestCase(new[] { 24 })]
    [TestCase(new[] { 1, 2, 1, 3, 4 })]
    public void Read_ImagesOfWrongRank_NamesTheShape(int[] shape)
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("images", NpyArray.Create(shape, Pixels)));
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path, string.Join(", ", shape),
            "expected N×H×W or N×C×H×W");
    }

    [Test]
    public void Read_NoImagesAtAll_IsAnError()
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("images", NpyArray.Create([0, 3, 4], Array.Empty<byte>())));
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path, "no images (N = 0)");
    }

    [Test]
    public void Read_LabelCountMismatch_NamesBothCounts()
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("images", NpyArray.Create([2, 3, 4], Pixels)),
            ("labels", NpyArray.Create([3], new long[3])));
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path, "'labels'", "(3)", "expected (2,)");
    }

    [Test]
    public void Read_NegativeLabel_NamesItsIndex()
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("images", NpyArray.Create([2, 3, 4], Pixels)),
            ("labels", NpyArray.Create([2], new long[] { 0, -1 })));
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path, "label -1 at index 1");
    }

    [Test]
    public void Read_FloatLabels_NamesTheDtype()
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("images", NpyArray.Create([2, 3, 4], Pixels)),
            ("labels", NpyArray.Create([2], new double[2])));
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path, "'labels'", "'<f8'", "int64");
    }

    [Test]
    public void Read_SourceNotUtf8_IsAnError()
    {
        using var files = new TestFiles();
        string path = WriteArrays(files, ("images", NpyArray.Create([2, 3, 4], Pixels)),
            ("source", NpyArray.Create([2], new byte[] { 0xC3, 0x28 })));
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path, "'source'", "UTF-8");
    }

    [Test]
    public void Read_SourceAsText_DecodesUtf8()
    {
        using var files = new TestFiles();
        byte[] text = Encoding.UTF8.GetBytes("DDPM, 50 steps");
        string path = WriteArrays(files, ("images", NpyArray.Create([2, 3, 4], Pixels)),
            ("source", NpyArray.Create([text.Length], text)));
        Assert.That(ProxySetFile.Read(path).Source, Is.EqualTo("DDPM, 50 steps"));
    }

    [Test]
    public void Read_NotAZip_NamesTheFile()
    {
        using var files = new TestFiles();
        string path = files.Write("bad.npz", [1, 2, 3]);
        TestFiles.Throws<InvalidDataException>(() => ProxySetFile.Read(path), path);
    }
}
