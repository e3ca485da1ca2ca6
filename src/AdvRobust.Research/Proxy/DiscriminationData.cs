using AdvRobust.Core.Data;

namespace AdvRobust.Research.Proxy;

/// <summary>
/// The balanced real-versus-synthetic data one proxy's discriminators train and test on. Labels: 1 = real,
/// 0 = synthetic. <see cref="Train"/> holds <c>trainPerSide</c> images of each; <see cref="Test"/> holds
/// <c>testPerSide</c> real images (rows 0 … testPerSide−1) then as many synthetic ones, none of them in Train.
/// Which images: the first train + test of a seeded permutation of each side (<see cref="ShuffleLoader.EpochOrder"/>
/// keyed by sub-seeds of the run's seed), so two proxies ranked with one seed are compared on the same real images.
/// </summary>
public sealed record DiscriminationData(LabeledImages Train, LabeledImages Test, int TrainPerSide, int TestPerSide)
{
    public const int Real = 1, Synthetic = 0;

    private const uint TagRealPick = 1, TagSyntheticPick = 2;

    public static DiscriminationData Create(LabeledImages real, ProxySet synthetic, int trainPerSide, int testPerSide,
        ulong seed)
    {
        ArgumentNullException.ThrowIfNull(real);
        ArgumentNullException.ThrowIfNull(synthetic);
        if (trainPerSide < 1 || testPerSide < 1)
            throw new ArgumentOutOfRangeException(nameof(trainPerSide),
                $"need at least one training and one test image per side, got {trainPerSide} and {testPerSide}");
        synthetic.RequireShapeOf(real);
        int need = trainPerSide + testPerSide;
        if (real.N < need)
            throw new ArgumentException(
                $"{real.Source}: {real.N} real images, but {trainPerSide} training + {testPerSide} test per side " +
                $"need {need}");
        if (synthetic.N < need)
            throw new ArgumentException(
                $"{synthetic.Name}: {synthetic.N} synthetic images, but {trainPerSide} training + {testPerSide} test " +
                $"per side need {need}; generate more or lower the sample counts");
        int[] realOrder = ShuffleLoader.EpochOrder(real.N, ProxyDraws.SubSeed(seed, TagRealPick), 0);
        int[] synthOrder = ShuffleLoader.EpochOrder(synthetic.N, ProxyDraws.SubSeed(seed, TagSyntheticPick), 0);
        var train = Combine(real, realOrder[..trainPerSide], synthetic, synthOrder[..trainPerSide], "train");
        var test = Combine(real, realOrder[trainPerSide..need], synthetic, synthOrder[trainPerSide..need], "test");
        return new DiscriminationData(train, test, trainPerSide, testPerSide);
    }

    /// <summary>The real rows (label 1) then the synthetic rows (label 0), as one two-class set.</summary>
    private static LabeledImages Combine(LabeledImages real, int[] realRows, ProxySet synthetic, int[] synthRows,
        string split)
    {
        int d = real.SampleSize, n = realRows.Length + synthRows.Length;
        var pixels = new float[(long)n * d];
        var labels = new int[n];
        for (int r = 0; r < realRows.Length; r++)
        {
            real.Image(realRows[r]).CopyTo(pixels.AsSpan(r * d, d));
            labels[r] = Real;
        }
        for (int s = 0; s < synthRows.Length; s++)
        {
            var dst = pixels.AsSpan((realRows.Length + s) * d, d);
            var src = synthetic.Images.AsSpan(synthRows[s] * d, d);
            for (int x = 0; x < d; x++) dst[x] = src[x] / 255f;
            labels[realRows.Length + s] = Synthetic;
        }
        return new LabeledImages(n, real.C, real.H, real.W, pixels, labels, 2,
            $"{split}: {real.Source} (real) vs {synthetic.Name} (synthetic)");
    }
}
