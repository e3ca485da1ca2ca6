namespace AdvRobust.Core.Data;

/// <summary>
/// An in-memory labelled image data set. Shape letters: N images, C channels, H height, W width.
/// <see cref="Pixels"/> is N×C×H×W, row-major (NCHW), every value in [0, 1]; <see cref="Labels"/> holds N class
/// indices in [0, <see cref="Classes"/>). The constructor validates all of that, so a LabeledImages that exists is
/// well-formed. The arrays are shared, not copied: treat them as read-only.
/// </summary>
public sealed class LabeledImages
{
    public LabeledImages(int n, int c, int h, int w, float[] pixels, int[] labels, int classes, string source)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(source);
        if (n < 0 || c < 1 || h < 1 || w < 1)
            throw new ArgumentException($"{source}: invalid image shape N={n} C={c} H={h} W={w}");
        if (classes < 1) throw new ArgumentException($"{source}: classes must be at least 1, got {classes}");
        long expected = (long)n * c * h * w;
        if (pixels.LongLength != expected)
            throw new ArgumentException(
                $"{source}: {n}×{c}×{h}×{w} images need {expected} pixel values, got {pixels.LongLength}");
        if (labels.Length != n)
            throw new ArgumentException($"{source}: {n} images need {n} labels, got {labels.Length}");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentException($"{source}: label {labels[i]} of image {i} is outside [0, {classes})");
        for (long i = 0; i < pixels.LongLength; i++)
        {
            float p = pixels[i];
            if (!(p >= 0f && p <= 1f)) // also rejects NaN
                throw new ArgumentException(
                    $"{source}: pixel {i} (image {i / ((long)c * h * w)}) is {p}, outside [0, 1]");
        }
        (N, C, H, W, Pixels, Labels, Classes, Source) = (n, c, h, w, pixels, labels, classes, source);
    }

    // Subset and Slice copy from an already validated set: no need to scan the pixels again.
    private LabeledImages(LabeledImages like, int n, float[] pixels, int[] labels)
    {
        (N, C, H, W, Classes, Source) = (n, like.C, like.H, like.W, like.Classes, like.Source);
        (Pixels, Labels) = (pixels, labels);
    }

    public int N { get; }
    public int C { get; }
    public int H { get; }
    public int W { get; }

    /// <summary>N×C×H×W values in [0, 1], row-major.</summary>
    public float[] Pixels { get; }

    /// <summary>N class indices in [0, Classes).</summary>
    public int[] Labels { get; }

    public int Classes { get; }

    /// <summary>The file or folder the images came from (for messages and logs).</summary>
    public string Source { get; }

    /// <summary>Values per image: C·H·W.</summary>
    public int SampleSize => C * H * W;

    /// <summary>The pixels of image <paramref name="i"/>.</summary>
    public ReadOnlySpan<float> Image(int i)
    {
        if ((uint)i >= (uint)N) throw new ArgumentOutOfRangeException(nameof(i), $"image {i} is outside [0, {N})");
        return Pixels.AsSpan(i * SampleSize, SampleSize);
    }

    /// <summary>A new data set holding copies of the images at <paramref name="indices"/>, in that order
    /// (repeats allowed).</summary>
    public LabeledImages Subset(int[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int size = SampleSize;
        var pixels = new float[(long)indices.Length * size];
        var labels = new int[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            int i = indices[k];
            if ((uint)i >= (uint)N)
                throw new ArgumentOutOfRangeException(nameof(indices),
                    $"{Source}: index {i} at position {k} is outside [0, {N})");
            Array.Copy(Pixels, (long)i * size, pixels, (long)k * size, size);
            labels[k] = Labels[i];
        }
        return new LabeledImages(this, indices.Length, pixels, labels);
    }

    /// <summary>A new data set holding copies of images [start, start + count).</summary>
    public LabeledImages Slice(int start, int count)
    {
        if (start < 0 || count < 0 || (long)start + count > N)
            throw new ArgumentOutOfRangeException(nameof(start),
                $"{Source}: slice [{start}, {(long)start + count}) is outside [0, {N}]");
        int size = SampleSize;
        var pixels = new float[(long)count * size];
        Array.Copy(Pixels, (long)start * size, pixels, 0, pixels.LongLength);
        return new LabeledImages(this, count, pixels, Labels.AsSpan(start, count).ToArray());
    }

    public override string ToString() => $"{N}×{C}×{H}×{W} images, {Classes} classes, from {Source}";
}
