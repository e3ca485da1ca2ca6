using AdvRobust.Core.Data;
using AdvRobust.Research.Proxy;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Proxy;

/// <summary>The PCA, mixup and noise generators: shapes, labels, value ranges, determinism by seed and the statistics
/// each is built to have, on small hand-made classes (and on Fashion-MNIST where it is installed).</summary>
public class ProxyGeneratorTests
{
    private const int Side = 6, D = Side * Side, Classes = 3, PerClass = 40;

    /// <summary>
    /// Three classes of 1×6×6 images: class c is its own mean pattern in [0.3, 0.7] plus a·u_c + b·w_c with
    /// a ~ N(0, 0.06²), b ~ N(0, 0.02²) along two fixed orthogonal unit directions, so nothing clips at 0 or 1 and the
    /// top principal direction of each class is u_c. Pixels are on the 1/255 grid like real 8-bit data.
    /// </summary>
    internal static LabeledImages Blobs(string testName, out float[][] directions)
    {
        var rng = new SeededRandom(testName);
        directions = new float[Classes][];
        var pixels = new float[Classes * PerClass * D];
        var labels = new int[Classes * PerClass];
        for (int c = 0; c < Classes; c++)
        {
            var mean = rng.Uniform(D, 0.3f, 0.7f);
            var u = new float[D];
            var w = new float[D];
            (u[c], u[c + 10]) = (0.6f, 0.8f);        // unit, and orthogonal to w
            (w[c + 20], w[c + 30]) = (0.8f, -0.6f);
            directions[c] = u;
            for (int i = 0; i < PerClass; i++)
            {
                int row = c * PerClass + i;
                labels[row] = c;
                float a = rng.Normal(1, 0.06f)[0], b = rng.Normal(1, 0.02f)[0];
                for (int x = 0; x < D; x++)
                    pixels[row * D + x] = MathF.Round(Math.Clamp(mean[x] + a * u[x] + b * w[x], 0, 1) * 255) / 255;
            }
        }
        return new LabeledImages(Classes * PerClass, 1, Side, Side, pixels, labels, Classes, "blobs");
    }

    private static double[] ClassMean(LabeledImages images, int label)
    {
        var mean = new double[images.SampleSize];
        int count = 0;
        for (int i = 0; i < images.N; i++)
        {
            if (images.Labels[i] != label) continue;
            count++;
            var image = images.Image(i);
            for (int x = 0; x < mean.Length; x++) mean[x] += image[x];
        }
        return mean.Select(v => v / count).ToArray();
    }

    [TestCase(ProxyKind.Pca)]
    [TestCase(ProxyKind.Mixup)]
    [TestCase(ProxyKind.Noise)]
    public void Generate_AnyKind_HasShapeBalancedLabelsAndSourceAndIsDeterministicPerSample(ProxyKind kind)
    {
        var real = Blobs(nameof(Generate_AnyKind_HasShapeBalancedLabelsAndSourceAndIsDeterministicPerSample), out _);
        var recipe = new ProxyRecipe(kind, 30, 5, K: 3, Sigma: 0.1f);
        var set = ProxyGenerator.Generate(recipe, real, CpuBackend.Instance);

        Assert.That((set.N, set.C, set.H, set.W), Is.EqualTo((30, 1, Side, Side)));
        Assert.That(set.Images, Has.Length.EqualTo(30 * D));
        Assert.That(set.Labels, Is.EqualTo(Enumerable.Range(0, 30).Select(i => i % Classes).ToArray()));
        string name = kind.ToString().ToLowerInvariant();
        Assert.That(set.Source, Does.Contain($"\"generator\":\"advrobust proxy {name}\""));
        Assert.That(ProxyGenerator.Generate(recipe, real, CpuBackend.Instance).Images, Is.EqualTo(set.Images),
            "same seed, same bytes");
        var fewer = ProxyGenerator.Generate(recipe with { Count = 7 }, real, CpuBackend.Instance);
        Assert.That(fewer.Images, Is.EqualTo(set.Images[..(7 * D)]), "sample i does not depend on the count");
        var other = ProxyGenerator.Generate(recipe with { Seed = 6 }, real, CpuBackend.Instance);
        Assert.That(other.Images, Is.Not.EqualTo(set.Images), "another seed, other images");
    }

    [Test]
    public void Pca_ManySamples_ClassMeanMatchesTheRealClassMean()
    {
        var real = Blobs(nameof(Pca_ManySamples_ClassMeanMatchesTheRealClassMean), out _);
        var set = ProxyGenerator.Pca(ClassPca.Fit(real, 2, CpuBackend.Instance), 3000, 11);
        var synthetic = set.ToLabeledImages(Classes);
        for (int c = 0; c < Classes; c++)
        {
            // Per pixel the sample mean's standard error is about 0.063/√1000 = 0.002; rounding to 1/255 adds no bias.
            var expected = ClassMean(real, c);
            var actual = ClassMean(synthetic, c);
            double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            Assert.That(worst, Is.LessThan(0.01), $"class {c}");
        }
    }

    [Test]
    public void ClassPca_RankOneStructure_FindsTheDirectionAndItsVariance()
    {
        var real = Blobs(nameof(ClassPca_RankOneStructure_FindsTheDirectionAndItsVariance), out var directions);
        var pca = ClassPca.Fit(real, 2, CpuBackend.Instance);
        Assert.That(pca.Classes.Select(c => c.Label), Is.EqualTo(new[] { 0, 1, 2 }));
        foreach (var fit in pca.Classes)
        {
            double cos = Math.Abs(fit.Directions.Take(D).Zip(directions[fit.Label], (a, b) => (double)a * b).Sum());
            Assert.That(cos, Is.GreaterThan(0.99), $"class {fit.Label}: top direction is u");
            // Sample variance of 40 draws of N(0, 0.06²): 0.0036 within a generous factor of its spread, above the
            // 0.0004 of the second direction.
            Assert.That(fit.Variances[0], Is.InRange(0.0036 * 0.5, 0.0036 * 1.6), $"class {fit.Label}");
            Assert.That(fit.Variances[1], Is.LessThan(fit.Variances[0] / 3));
        }
    }

    [Test]
    public void Noise_ZeroSigma_CopiesRealImagesOfTheSameClass()
    {
        var real = Blobs(nameof(Noise_ZeroSigma_CopiesRealImagesOfTheSameClass), out _);
        var set = ProxyGenerator.Noise(real, 0f, 12, 3);
        string Hex(ReadOnlySpan<float> image) =>
            Convert.ToHexString(image.ToArray().Select(v => (byte)MathF.Round(v * 255)).ToArray());
        var realBytes = Enumerable.Range(0, real.N).Select(i => (real.Labels[i], Hex(real.Image(i)))).ToHashSet();
        for (int i = 0; i < set.N; i++)
            Assert.That(realBytes, Does.Contain((set.Labels![i], Convert.ToHexString(set.Images.AsSpan(i * D, D)))),
                $"sample {i} is a real image of class {set.Labels[i]}");
    }

    [Test]
    public void Noise_OnConstantImages_HasTheRequestedStandardDeviation()
    {
        var grey = new LabeledImages(2, 1, Side, Side, Enumerable.Repeat(0.5f, 2 * D).ToArray(), [0, 1], 2, "grey");
        var set = ProxyGenerator.Noise(grey, 0.08f, 400, 9);
        double[] deviations = set.Images.Select(b => b / 255.0 - 0.5).ToArray();
        double mean = deviations.Average();
        double std = Math.Sqrt(deviations.Select(v => (v - mean) * (v - mean)).Average());
        // 14,400 draws: the sample std is within 1.2% of 0.08 at 2σ; rounding to 1/255 adds 0.0011² of variance.
        Assert.That(std, Is.EqualTo(0.08).Within(0.08 * 0.03));
        Assert.That(mean, Is.EqualTo(0).Within(0.002));
    }

    [Test]
    public void Mixup_EveryPixel_LiesWithinItsClassRange()
    {
        var real = Blobs(nameof(Mixup_EveryPixel_LiesWithinItsClassRange), out _);
        var set = ProxyGenerator.Mixup(real, 60, 4);
        for (int i = 0; i < set.N; i++)
        {
            int label = set.Labels![i];
            var members = Enumerable.Range(0, real.N).Where(r => real.Labels[r] == label).ToArray();
            for (int x = 0; x < D; x++)
            {
                // A convex combination of two class images is between the class's per-pixel min and max (to rounding).
                float lo = members.Min(r => real.Image(r)[x]), hi = members.Max(r => real.Image(r)[x]);
                float v = set.Images[i * D + x] / 255f;
                Assert.That(v, Is.InRange(lo - 0.5f / 255, hi + 0.5f / 255), $"sample {i} pixel {x}");
            }
        }
    }

    [Test]
    public void Mixup_ClassWithOneImage_Throws()
    {
        var real = new LabeledImages(3, 1, 2, 2, new float[12], [0, 0, 1], 2, "tiny");
        Assert.That(() => ProxyGenerator.Mixup(real, 4, 0),
            Throws.ArgumentException.With.Message.Contains("class 1 has 1"));
    }

    [Test]
    public void Generate_BadArguments_Throw()
    {
        var real = Blobs(nameof(Generate_BadArguments_Throw), out _);
        Assert.That(() => ProxyGenerator.Noise(real, -0.1f, 4, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => ProxyGenerator.Noise(real, 0.1f, 0, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => ClassPca.Fit(real, D + 1, CpuBackend.Instance),
            Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void Pca_OnFashionMnist_ClassMeansStayCloseAndPixelsAreUint8()
    {
        var real = FashionMnistSubset.TrainOrIgnore(2000);
        var set = ProxyGenerator.Pca(ClassPca.Fit(real, 8, CpuBackend.Instance), 2000, 1);
        var synthetic = set.ToLabeledImages(10);
        for (int c = 0; c < 10; c++)
        {
            var expected = ClassMean(real, c);
            var actual = ClassMean(synthetic, c);
            // Clipping the Gaussian at 0 on the black background lifts the mean a little; on average it stays close.
            double meanAbs = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Average();
            Assert.That(meanAbs, Is.LessThan(0.03), $"class {c}");
        }
    }
}
