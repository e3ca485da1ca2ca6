using AdvRobust.Core.Data;

namespace AdvRobust.Research.Proxy;

/// <summary>
/// A synthetic (proxy) image set in memory: N images C×H×W as uint8 (pixel value = byte/255, row-major NCHW, exactly
/// what a generator writes to disk), optional class labels (one per image, ≥ 0), and an optional <see cref="Source"/>
/// text saying how the set was made. <see cref="ProxySetFile"/> reads and writes it as an .npz. Uint8 is the storage
/// format because generated sets are large (the PORT paper uses millions of images) and real data sets are 8-bit too:
/// a proxy stored in float would differ from real images in a way a discriminator could learn.
/// The constructor validates shapes and labels, so a ProxySet that exists is well-formed. Arrays are shared, not
/// copied.
/// </summary>
public sealed class ProxySet
{
    public ProxySet(int n, int c, int h, int w, byte[] images, int[]? labels, string? source, string name)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(name);
        if (n < 1) throw new ArgumentException($"{name}: a proxy set needs at least one image, got N={n}");
        if (c < 1 || h < 1 || w < 1) throw new ArgumentException($"{name}: invalid image shape C={c} H={h} W={w}");
        long expected = (long)n * c * h * w;
        if (images.LongLength != expected)
            throw new ArgumentException(
                $"{name}: {n}×{c}×{h}×{w} images need {expected} bytes, got {images.LongLength}");
        if (labels is not null)
        {
            if (labels.Length != n)
                throw new ArgumentException($"{name}: {n} images need {n} labels, got {labels.Length}");
            for (int i = 0; i < n; i++)
                if (labels[i] < 0) throw new ArgumentException($"{name}: label {labels[i]} of image {i} is negative");
        }
        (N, C, H, W, Images, Labels, Source, Name) = (n, c, h, w, images, labels, source, name);
    }

    public int N { get; }
    public int C { get; }
    public int H { get; }
    public int W { get; }

    /// <summary>N×C×H×W bytes, row-major; pixel value = byte/255.</summary>
    public byte[] Images { get; }

    /// <summary>N class indices (≥ 0), or null for an unlabelled set.</summary>
    public int[]? Labels { get; }

    /// <summary>How the set was made (our generators write a JSON object with the kind and its parameters).</summary>
    public string? Source { get; }

    /// <summary>The file it was read from, or a short description (for messages and tables).</summary>
    public string Name { get; }

    /// <summary>Values per image: C·H·W.</summary>
    public int SampleSize => C * H * W;

    /// <summary>The pixels of every image as floats in [0, 1] (byte/255), N×C×H×W.</summary>
    public float[] ToPixels()
    {
        var pixels = new float[Images.LongLength];
        for (long i = 0; i < pixels.LongLength; i++) pixels[i] = Images[i] / 255f;
        return pixels;
    }

    /// <summary>
    /// The set as labelled training images for a <paramref name="classes"/>-way classifier (PORT mixes these with the
    /// real ones). Throws when the set has no labels or a label is not below <paramref name="classes"/>.
    /// </summary>
    public LabeledImages ToLabeledImages(int classes)
    {
        if (Labels is null)
            throw new InvalidOperationException(
                $"{Name}: the set has no labels; a classifier cannot train on it (pseudo-label it first)");
        for (int i = 0; i < N; i++)
            if (Labels[i] >= classes)
                throw new ArgumentException($"{Name}: label {Labels[i]} of image {i} is outside [0, {classes})");
        return new LabeledImages(N, C, H, W, ToPixels(), Labels, classes, Name);
    }

    /// <summary>Checks that this set's images have the shape of <paramref name="real"/>'s.</summary>
    public void RequireShapeOf(LabeledImages real)
    {
        if (C != real.C || H != real.H || W != real.W)
            throw new ArgumentException(
                $"{Name}: images are {C}×{H}×{W}, but the real images ({real.Source}) are {real.C}×{real.H}×{real.W}");
    }

    public override string ToString() =>
        $"{N}×{C}×{H}×{W} uint8 images{(Labels is null ? ", unlabelled" : "")}, {Name}";
}
