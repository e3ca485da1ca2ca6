using AdvRobust.Core.Attacks;
using AdvRobust.Core.Data;

namespace AdvRobust.Research.Proxy;

/// <summary>What pseudo-labelling kept: the labelled images and a line for the run manifest.</summary>
public sealed record PseudoLabelled(LabeledImages Images, int Kept, int Total, string Description);

/// <summary>
/// Labels an unlabelled proxy set with a teacher classifier, as PORT does for unconditional generators (papers.md
/// §2.3): each image gets the teacher's argmax, and only images whose softmax confidence (the largest class
/// probability) is at least <c>threshold</c> are kept. The teacher runs in eval mode without gradients; the result does
/// not depend on the batch size.
/// </summary>
public static class PseudoLabels
{
    public static PseudoLabelled Label(ProxySet set, Classifier teacher, float threshold, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(teacher);
        if (!(threshold is >= 0 and < 1))
            throw new ArgumentException($"the confidence threshold must be in [0, 1), got {threshold}");
        if (batchSize < 1) throw new ArgumentException($"batch size must be >= 1, got {batchSize}");
        var shape = teacher.InputShape;
        if (shape[0] != set.C || shape[1] != set.H || shape[2] != set.W)
            throw new ArgumentException($"{set.Name}: {set.C}×{set.H}×{set.W} images, the teacher takes " +
                                        string.Join("×", shape));
        var backend = teacher.Parameters().First().Value.Backend;
        float[] pixels = set.ToPixels();
        int d = set.SampleSize, k = teacher.Classes;
        var keep = new List<int>();
        var labels = new List<int>();
        using (new ModelMode(teacher, keepTrainingMode: false))
        {
            for (int start = 0; start < set.N; start += batchSize)
            {
                int n = Math.Min(batchSize, set.N - start);
                using var x = Tensor.FromArray(backend, pixels.AsSpan(start * d, n * d), n, set.C, set.H, set.W);
                float[] logits = Predictions.Logits(teacher, x, out _);
                for (int i = 0; i < n; i++)
                {
                    var (label, confidence) = Softmax(logits.AsSpan(i * k, k));
                    if (confidence < threshold) continue;
                    keep.Add(start + i);
                    labels.Add(label);
                }
            }
        }
        if (keep.Count == 0)
            throw new ArgumentException($"{set.Name}: the teacher labels none of the {set.N} images with confidence " +
                                        $">= {threshold}; lower the threshold");
        var kept = new float[(long)keep.Count * d];
        for (int j = 0; j < keep.Count; j++) Array.Copy(pixels, (long)keep[j] * d, kept, (long)j * d, d);
        var images = new LabeledImages(keep.Count, set.C, set.H, set.W, kept, labels.ToArray(), k,
            $"{set.Name} (pseudo-labelled)");
        string description = $"{set.Name}: {keep.Count} of {set.N} images pseudo-labelled by the teacher with " +
                             $"confidence >= {threshold}";
        return new PseudoLabelled(images, keep.Count, set.N, description);
    }

    /// <summary>The argmax (lowest index on a tie) and its softmax probability, computed stably in double.</summary>
    private static (int Label, double Confidence) Softmax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int j = 1; j < z.Length; j++) if (z[j] > z[best]) best = j;
        double sum = 0;
        foreach (float v in z) sum += Math.Exp(v - z[best]);
        return (best, 1 / sum);
    }
}
