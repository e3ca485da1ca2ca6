using AdvRobust.Core.Data;
using AdvRobust.Tests.Serialization;

namespace AdvRobust.Tests.Data;

public class FashionMnistTests
{
    [Test]
    public void Load_TestSplitFromSystemFolder_Is10000ImagesWithEveryClass()
    {
        if (!Directory.Exists(FashionMnist.SystemFolder)) Assert.Ignore(FashionMnist.HowToGet);

        var set = FashionMnist.Load(FashionMnist.SystemFolder, train: false);

        Assert.That((set.N, set.C, set.H, set.W, set.Classes), Is.EqualTo((10_000, 1, 28, 28, 10)));
        Assert.That(set.Pixels, Has.Length.EqualTo(10_000 * 784));
        Assert.That(set.Labels.Min(), Is.EqualTo(0));
        Assert.That(set.Labels.Max(), Is.EqualTo(9));
        // The Fashion-MNIST test split is balanced: exactly 1,000 images per class.
        var perClass = set.Labels.GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(perClass.Keys, Is.EquivalentTo(Enumerable.Range(0, 10)));
        Assert.That(perClass.Values, Is.All.EqualTo(1000));
        // The first test images are an ankle boot, a pullover and two trousers (labels 9, 2, 1, 1).
        Assert.That(set.Labels[..4], Is.EqualTo(new[] { 9, 2, 1, 1 }));
        // Image 0's raw bytes sum to 33456 (read independently with Python's gzip module).
        double sum = 0;
        foreach (float p in set.Image(0)) sum += p;
        Assert.That(sum * 255, Is.EqualTo(33456).Within(1e-2));
        Assert.That(set.Source, Is.EqualTo(FashionMnist.SystemFolder));
    }

    [Test]
    public void Load_NothingAnywhere_ThrowsFileNotFoundWithInstallHint()
    {
        using var files = new TestFiles();
        string root = files.PathOf("root"), system = files.PathOf("system");

        TestFiles.Throws<FileNotFoundException>(() => FashionMnist.Load(null, false, root, system),
            "Fashion-MNIST", "test split", "t10k-images-idx3-ubyte", Path.Combine(root, "fashion-mnist"), system,
            "apt-get install -y dataset-fashion-mnist", "--data DIR");
    }

    [Test]
    public void Load_ExplicitDirWithoutFiles_DoesNotFallBackToDefaults()
    {
        using var files = new TestFiles();
        WriteSplit(files.PathOf("system"), "t10k", gzip: true);
        string empty = files.PathOf("empty");

        TestFiles.Throws<FileNotFoundException>(() => FashionMnist.Load(empty, false, null, files.PathOf("system")),
            empty, "apt-get install -y dataset-fashion-mnist");
    }

    [Test]
    public void Load_DataRootVariableFolder_FindsUngzippedFiles()
    {
        using var files = new TestFiles();
        string folder = files.PathOf("root/fashion-mnist");
        WriteSplit(folder, "train", gzip: false);

        var set = FashionMnist.Load(null, true, files.PathOf("root"), files.PathOf("nowhere"));

        Assert.That((set.N, set.H, set.W), Is.EqualTo((3, 28, 28)));
        Assert.That(set.Labels, Is.EqualTo(new[] { 4, 0, 9 }));
        Assert.That(set.Source, Is.EqualTo(folder));
    }

    [Test]
    public void Load_SystemFolderAfterEmptyDataRoot_IsUsed()
    {
        using var files = new TestFiles();
        WriteSplit(files.PathOf("system"), "t10k", gzip: true);

        var set = FashionMnist.Load(null, false, files.PathOf("root"), files.PathOf("system"));

        Assert.That(set.Source, Is.EqualTo(files.PathOf("system")));
    }

    [Test]
    public void Load_OnlyImagesPresent_NamesTheMissingLabelsFile()
    {
        using var files = new TestFiles();
        files.Write("d/t10k-images-idx3-ubyte.gz", TestFiles.Gzip(IdxBytes.Images(1, 28, 28)));

        TestFiles.Throws<FileNotFoundException>(() => FashionMnist.Load(files.PathOf("d"), false),
            "t10k-images-idx3-ubyte.gz", "but not t10k-labels-idx1-ubyte");
    }

    [Test]
    public void MnistLoad_DataRootFolder_LoadsAndMissingHintHasNoApt()
    {
        using var files = new TestFiles();
        WriteSplit(files.PathOf("root/mnist"), "t10k", gzip: true);

        var set = Mnist.Load(null, false, files.PathOf("root"));
        Assert.That((set.N, set.C, set.H, set.W), Is.EqualTo((3, 1, 28, 28)));

        var e = TestFiles.Throws<FileNotFoundException>(() => Mnist.Load(null, true, files.PathOf("root")),
            "MNIST", "train-images-idx3-ubyte", "--data DIR", "$ADVROBUST_DATA/mnist");
        Assert.That(e.Message, Does.Not.Contain("apt-get"));
    }

    private static void WriteSplit(string folder, string split, bool gzip)
    {
        Directory.CreateDirectory(folder);
        byte[] images = IdxBytes.Images(3, 28, 28), labels = IdxBytes.Labels(4, 0, 9);
        string suffix = gzip ? ".gz" : "";
        if (gzip) (images, labels) = (TestFiles.Gzip(images), TestFiles.Gzip(labels));
        File.WriteAllBytes(Path.Combine(folder, $"{split}-images-idx3-ubyte{suffix}"), images);
        File.WriteAllBytes(Path.Combine(folder, $"{split}-labels-idx1-ubyte{suffix}"), labels);
    }
}
