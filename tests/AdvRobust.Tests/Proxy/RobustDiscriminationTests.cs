using AdvRobust.Core.Data;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Research.Proxy;
using AdvRobust.Cpu;

namespace AdvRobust.Tests.Proxy;

/// <summary>The real-vs-synthetic split, the tiny discriminator, and the headline property: ARC ranks a proxy known
/// to be close to the real data below one known to be far.</summary>
public class RobustDiscriminationTests
{
    /// <summary>n one-channel 2×2 real images whose first pixel encodes the index (i/255), so each is unique.</summary>
    private static LabeledImages Indexed(int n) => new(n, 1, 2, 2,
        Enumerable.Range(0, n).SelectMany(i => new[] { i / 255f, 0.5f, 0.5f, 0.5f }).ToArray(), new int[n], 1,
        "indexed");

    private static ProxySet Blank(int n, int c = 1, int side = 2) =>
        new(n, c, side, side, new byte[n * c * side * side], null, null, "blank.npz");

    [Test]
    public void Create_SplitsEachSideIntoDisjointTrainAndTestOfTheRequestedSizes()
    {
        var data = DiscriminationData.Create(Indexed(50), Blank(30), 20, 8, seed: 4);

        Assert.That(data.Train.N, Is.EqualTo(40));
        Assert.That(data.Test.N, Is.EqualTo(16));
        Assert.That(data.Train.Labels.Count(l => l == DiscriminationData.Real), Is.EqualTo(20));
        Assert.That(data.Test.Labels, Is.EqualTo(Enumerable.Repeat(1, 8).Concat(Enumerable.Repeat(0, 8))),
            "test rows: real first, then synthetic");
        int Id(LabeledImages set, int i) => (int)MathF.Round(set.Image(i)[0] * 255);
        var trainIds = Enumerable.Range(0, 20).Select(i => Id(data.Train, i)).ToHashSet();
        var testIds = Enumerable.Range(0, 8).Select(i => Id(data.Test, i)).ToHashSet();
        Assert.That(trainIds.Count + testIds.Count, Is.EqualTo(28), "no real image is drawn twice");
        Assert.That(trainIds.Overlaps(testIds), Is.False);
        var again = DiscriminationData.Create(Indexed(50), Blank(40), 20, 8, seed: 4);
        Assert.That(again.Train.Pixels[..80], Is.EqualTo(data.Train.Pixels[..80]),
            "the real picks depend on the seed only, so every proxy is compared on the same real images");
    }

    [Test]
    public void Create_TooFewSyntheticImages_NamesTheSetAndTheCounts() =>
        Assert.That(() => DiscriminationData.Create(Indexed(50), Blank(10), 20, 8, 0),
            Throws.ArgumentException.With.Message.Contains("blank.npz: 10 synthetic images")
                .And.Message.Contains("28"));

    [Test]
    public void Create_ShapeMismatch_NamesBothShapes() =>
        Assert.That(() => DiscriminationData.Create(Indexed(50), Blank(40, side: 3), 20, 8, 0),
            Throws.ArgumentException.With.Message.Contains("1×3×3").And.Message.Contains("1×2×2"));

    [Test]
    public void TinyCnn_OnFashionMnistShape_HasTheDocumentedSizeAndTwoLogits()
    {
        using var model = new TinyCnn(new ParameterInit(CpuBackend.Instance, 1), 2, [1, 28, 28], [0.3f], [0.35f]);
        Assert.That(model.ParameterCount(), Is.EqualTo(1282)); // (8·9 + 8) + (16·8·9 + 16) + (2·16 + 2)
        Assert.That(model.EmbeddingDim, Is.EqualTo(16));
    }

    [Test]
    public void Settings_Invalid_AreRejectedBeforeAnyTraining()
    {
        Assert.That(() => new RobustDiscrimination(CpuBackend.Instance, new DiscriminatorSettings(Epochs: 0), 0),
            Throws.ArgumentException);
        Assert.That(() => new RobustDiscrimination(CpuBackend.Instance, new DiscriminatorSettings(EpsWarmup: 2), 0),
            Throws.ArgumentException.With.Message.Contains("warm-up"));
    }

    [Test]
    public void Measure_SameSeed_IsReproducible_OtherSeedDiffers()
    {
        var real = ProxyGeneratorTests.Blobs(nameof(Measure_SameSeed_IsReproducible_OtherSeedDiffers), out _);
        var synthetic = ProxyGenerator.Noise(real, 0.1f, 60, 1);
        var settings = new DiscriminatorSettings(Epochs: 1, BatchSize: 16, TrainSteps: 2, EvalSteps: 2);
        DiscriminationPoint Run(ulong seed) => new RobustDiscrimination(CpuBackend.Instance, settings, seed)
            .Measure(DiscriminationData.Create(real, synthetic, 40, 20, seed), 0.05) with { Seconds = 0 };

        var first = Run(5);
        Assert.That(Run(5), Is.EqualTo(first), "init, loader order, image picks and PGD starts all follow the seed");
        Assert.That(Run(6).TrainLoss, Is.Not.EqualTo(first.TrainLoss));
        Assert.That(first.Eps, Is.EqualTo(0.05), "the grid value is reported exactly, not its float rounding");
    }

    [Test]
    public void Rank_LightNoiseVersusPcaK2_RanksTheCloserProxyFirst()
    {
        // Lightly perturbed real images (noise σ = 0.02, about 5 grey levels) are a close proxy: an ε ≥ 0.05
        // attacker can hide the noise entirely. PCA with k = 2 keeps only each class's two main modes: blurry images
        // whose missing edges no 0.05 attacker can paint in. 256 training and 128 test images per side, 3 epochs of
        // the tiny discriminator, ε ∈ {0, 0.05, 0.1}: with several seeds PCA reached 95–99% at ε = 0 and about 75% at
        // ε = 0.05 (ARC ≈ 0.49), while noise stayed at chance (ARC ≈ 0). About 10 s on a loaded 2-core CPU.
        var real = FashionMnistSubset.TrainOrIgnore(1000);
        var close = ProxyGenerator.Noise(real, 0.02f, 384, 1);
        var far = ProxyGenerator.Pca(ClassPca.Fit(real, 2, CpuBackend.Instance), 384, 1);
        var discrimination = new RobustDiscrimination(CpuBackend.Instance,
            new DiscriminatorSettings(Epochs: 3, BatchSize: 32, TrainSteps: 3, EvalSteps: 5), seed: 7);

        var ranking = ProxyRanking.Rank(real, [far, close], [0, 0.05, 0.1], 256, 128, discrimination);

        Assert.That(ranking.Ranked.Select(s => s.Name), Is.EqualTo(new[] { close.Name, far.Name }));
        var (closeScore, farScore) = (ranking.Ranked[0], ranking.Ranked[1]);
        Assert.That(farScore.Points[0].Accuracy, Is.GreaterThan(0.85), "the discriminator learns to spot PCA k = 2");
        Assert.That(farScore.Arc - closeScore.Arc, Is.GreaterThan(0.2));
        Assert.That(farScore.Points.Select(p => p.Eps), Is.EqualTo(new[] { 0, 0.05, 0.1 }).Within(1e-6));
        double[] accuracies = farScore.Points.Select(p => p.Accuracy).ToArray();
        Assert.That(farScore.Arc, Is.EqualTo(Arc.FromAccuracies(ranking.Eps, accuracies)));
    }
}
