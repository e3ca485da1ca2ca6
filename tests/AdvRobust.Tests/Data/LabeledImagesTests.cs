using AdvRobust.Core.Data;

namespace AdvRobust.Tests.Data;

public class LabeledImagesTests
{
    // N images of 1×2×2 whose pixels encode their index: pixel k of image i is (4i + k) / 1000.
    internal static LabeledImages Indexed(int n, int classes = 10)
    {
        var pixels = new float[n * 4];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = i / 1000f;
        int[] labels = Enumerable.Range(0, n).Select(i => i % classes).ToArray();
        return new LabeledImages(n, 1, 2, 2, pixels, labels, classes, "indexed");
    }

    [Test]
    public void Constructor_WrongPixelCount_ThrowsWithCounts()
    {
        var e = Assert.Throws<ArgumentException>(() => new LabeledImages(2, 1, 2, 2, new float[7], [0, 1], 2, "src"))!;
        Assert.That(e.Message, Does.Contain("src").And.Contain("need 8 pixel values, got 7"));
    }

    [Test]
    public void Constructor_WrongLabelCount_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new LabeledImages(2, 1, 2, 2, new float[8], [0], 2, "src"))!;
        Assert.That(e.Message, Does.Contain("2 images need 2 labels, got 1"));
    }

    [TestCase(-1)]
    [TestCase(3)]
    public void Constructor_LabelOutOfRange_Throws(int label)
    {
        var e = Assert.Throws<ArgumentException>(
            () => new LabeledImages(2, 1, 2, 2, new float[8], [0, label], 3, "src"))!;
        Assert.That(e.Message, Does.Contain($"label {label} of image 1 is outside [0, 3)"));
    }

    [TestCase(-0.01f)]
    [TestCase(1.5f)]
    [TestCase(float.NaN)]
    public void Constructor_PixelOutsideUnitInterval_Throws(float bad)
    {
        var pixels = new float[8];
        pixels[6] = bad;
        var e = Assert.Throws<ArgumentException>(() => new LabeledImages(2, 1, 2, 2, pixels, [0, 1], 2, "src"))!;
        Assert.That(e.Message, Does.Contain("pixel 6 (image 1)").And.Contain("outside [0, 1]"));
    }

    [Test]
    public void Subset_Indices_CopiesImagesAndLabelsInThatOrder()
    {
        var set = Indexed(5);

        var sub = set.Subset([4, 1, 4]);

        Assert.That(sub.N, Is.EqualTo(3));
        Assert.That(sub.Labels, Is.EqualTo(new[] { 4, 1, 4 }));
        Assert.That(sub.Image(0).ToArray(), Is.EqualTo(set.Image(4).ToArray()));
        Assert.That(sub.Image(1).ToArray(), Is.EqualTo(set.Image(1).ToArray()));
        Assert.That(sub.Pixels, Is.Not.SameAs(set.Pixels));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Subset([0, 5]));
    }

    [Test]
    public void Slice_Range_CopiesThatRange()
    {
        var set = Indexed(6);

        var slice = set.Slice(2, 3);

        Assert.That(slice.Labels, Is.EqualTo(new[] { 2, 3, 4 }));
        Assert.That(slice.Pixels, Is.EqualTo(set.Pixels[8..20]));
        Assert.That(set.Slice(6, 0).N, Is.EqualTo(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Slice(4, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Slice(-1, 1));
    }
}
