using AdvRobust.Core;
using AdvRobust.Research.Certification;
using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;
using AdvRobust.Research.Training;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Certification;

/// <summary>
/// Ops.GaussianNoise on the CPU reference (the GPU kernel is checked against it in Parity/NoiseParityTests) and the
/// GaussianAugmentation helper built on it. Shape letters: y N×C×H×W, x the same or 1×C×H×W.
/// </summary>
public class GaussianNoiseTests
{
    private static IBackend Cpu => Backends.Cpu;
    private const ulong Seed = 1234;

    [Test]
    public void GaussianNoise_RandomBatch_IsXPlusSigmaTimesPhiloxNormalOfSampleAndElement()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int[] dims = [3, 2, 5, 7];
        float[] x = rng.Uniform(3 * 70, 0f, 1f);
        using var tx = Tensor.FromArray(Cpu, x, dims);
        using var ty = Tensor.Empty(Cpu, DType.Float32, dims);
        Ops.GaussianNoise(tx, ty, 0.25f, Seed, stream: 9, firstSample: 40);
        float[] y = ty.ToArray();
        for (int s = 0; s < 3; s++)
        for (int k = 0; k < 70; k++)
        {
            var r = Philox.Draw(Seed, 9, Philox.PurposeNoise, (uint)(40 + s), (uint)k);
            Assert.That(y[s * 70 + k], Is.EqualTo(x[s * 70 + k] + 0.25f * Philox.Normal(r.X0, r.X1)), $"[{s},{k}]");
        }
    }

    [Test]
    public void GaussianNoise_OneRowX_ReplicatesItIntoDifferentNoisyCopies()
    {
        float[] x = new SeededRandom(TestContext.CurrentContext.Test.FullName).Uniform(12, 0f, 1f);
        using var tx = Tensor.FromArray(Cpu, x, 1, 3, 4);
        using var ty = Tensor.Empty(Cpu, DType.Float32, 5, 3, 4);
        using var whole = Tensor.FromArray(Cpu, Enumerable.Range(0, 5).SelectMany(_ => x).ToArray(), 5, 3, 4);
        using var expected = Tensor.Empty(Cpu, DType.Float32, 5, 3, 4);
        Ops.GaussianNoise(tx, ty, 0.5f, Seed, 2, 100);
        Ops.GaussianNoise(whole, expected, 0.5f, Seed, 2, 100);
        float[] y = ty.ToArray();
        Assert.That(y, Is.EqualTo(expected.ToArray()), "a replicated row must equal the same row repeated");
        Assert.That(y[..12], Is.Not.EqualTo(y[12..24]), "two copies of one image must get different noise");
    }

    [Test]
    public void GaussianNoise_BatchSplit_GivesEachSampleTheSameNoise()
    {
        using var x = Tensor.Zeros(Cpu, 1, 10);
        float[] Copies(uint first, int n)
        {
            using var y = Tensor.Empty(Cpu, DType.Float32, n, 10);
            Ops.GaussianNoise(x, y, 1f, Seed, 3, first);
            return y.ToArray();
        }
        float[] split = Copies(1000, 6).Concat(Copies(1006, 4)).ToArray();
        Assert.That(split, Is.EqualTo(Copies(1000, 10)));
    }

    [Test]
    public void GaussianNoise_SampleIdTensor_MatchesTheConsecutiveRowsOfThoseIds()
    {
        uint[] ids = [7, 2, 3_000_000_000, 5];
        using var x = Tensor.Zeros(Cpu, 4, 6);
        using var y = Tensor.Empty(Cpu, DType.Float32, 4, 6);
        using var idTensor = Tensor.FromArray(Cpu, ids.Select(i => unchecked((int)i)).ToArray(), 4);
        Ops.GaussianNoise(x, y, 1f, Seed, 1, idTensor);
        float[] got = y.ToArray();
        using var zero = Tensor.Zeros(Cpu, 1, 6);
        for (int s = 0; s < ids.Length; s++)
        {
            using var one = Tensor.Empty(Cpu, DType.Float32, 1, 6);
            Ops.GaussianNoise(zero, one, 1f, Seed, 1, ids[s]);
            Assert.That(got[(s * 6)..(s * 6 + 6)], Is.EqualTo(one.ToArray()), $"row {s} = sample {ids[s]}");
        }
    }

    [Test]
    public void GaussianNoise_InPlace_MatchesOutOfPlace()
    {
        float[] x = new SeededRandom(TestContext.CurrentContext.Test.FullName).Uniform(40);
        using var a = Tensor.FromArray(Cpu, x, 4, 10);
        using var b = Tensor.Empty(Cpu, DType.Float32, 4, 10);
        Ops.GaussianNoise(a, b, 0.3f, Seed, 0, 0);
        Ops.GaussianNoise(a, a, 0.3f, Seed, 0, 0);
        Assert.That(a.ToArray(), Is.EqualTo(b.ToArray()));
    }

    /// <summary>200,000 draws: mean 0 and standard deviation σ within 5 standard errors, neighbours uncorrelated.</summary>
    [Test]
    public void GaussianNoise_ManyDraws_HaveMeanZeroStdSigmaAndNoCorrelation()
    {
        const float sigma = 0.5f;
        using var x = Tensor.Zeros(Cpu, 1, 100);
        using var y = Tensor.Empty(Cpu, DType.Float32, 2000, 100);
        Ops.GaussianNoise(x, y, sigma, Seed, 11, 0);
        double[] z = y.ToArray().Select(v => (double)v / sigma).ToArray();
        int n = z.Length;
        double mean = z.Average(), variance = z.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        double nextElement = Enumerable.Range(0, n - 1).Sum(i => z[i] * z[i + 1]) / (n - 1);
        double nextSample = Enumerable.Range(0, n - 100).Sum(i => z[i] * z[i + 100]) / (n - 100);
        double se = 1 / Math.Sqrt(n);
        Assert.That(mean, Is.EqualTo(0).Within(5 * se), "mean");
        Assert.That(variance, Is.EqualTo(1).Within(5 * Math.Sqrt(2) * se), "variance / sigma²");
        Assert.That(nextElement, Is.EqualTo(0).Within(5 * se), "correlation of neighbouring elements");
        Assert.That(nextSample, Is.EqualTo(0).Within(5 * se), "correlation of one element in neighbouring samples");
    }

    [Test]
    public void GaussianNoise_ZeroSigma_CopiesX()
    {
        float[] x = new SeededRandom(TestContext.CurrentContext.Test.FullName).Uniform(8);
        using var tx = Tensor.FromArray(Cpu, x, 1, 8);
        using var ty = Tensor.Empty(Cpu, DType.Float32, 3, 8);
        Ops.GaussianNoise(tx, ty, 0f, Seed, 0, 0);
        Assert.That(ty.ToArray(), Is.EqualTo(x.Concat(x).Concat(x).ToArray()));
    }

    [Test]
    public void GaussianNoise_BadArguments_ThrowNamingTheProblem()
    {
        using var x = Tensor.Zeros(Cpu, 2, 3);
        using var y = Tensor.Zeros(Cpu, 4, 3);
        using var wide = Tensor.Zeros(Cpu, 4, 4);
        using var ids = Tensor.FromArray(Cpu, new[] { 1, 2, 3 }, 3);
        using var floatIds = Tensor.Zeros(Cpu, 4);
        Assert.Multiple(() =>
        {
            Assert.That(() => Ops.GaussianNoise(x, y, 1f, Seed), Throws.ArgumentException.With.Message.Contains("one row"));
            Assert.That(() => Ops.GaussianNoise(y, wide, 1f, Seed), Throws.ArgumentException.With.Message.Contains("shape"));
            Assert.That(() => Ops.GaussianNoise(y, y, -1f, Seed), Throws.ArgumentException.With.Message.Contains("sigma"));
            Assert.That(() => Ops.GaussianNoise(y, y, float.NaN, Seed), Throws.ArgumentException.With.Message.Contains("sigma"));
            Assert.That(() => Ops.GaussianNoise(y, y, 1f, Seed, 0, uint.MaxValue - 1),
                Throws.ArgumentException.With.Message.Contains("2^32"));
            Assert.That(() => Ops.GaussianNoise(y, y, 1f, Seed, 0, ids), Throws.ArgumentException.With.Message.Contains("sampleIds"));
            Assert.That(() => Ops.GaussianNoise(y, y, 1f, Seed, 0, floatIds),
                Throws.ArgumentException.With.Message.Contains("Int32"));
        });
    }

    [Test]
    public void Noisy_ShuffledTrainingBatch_KeysEachRowByItsSampleIdAndEpoch()
    {
        uint[] ids = [31, 4, 5, 17];
        float[] x = new SeededRandom(TestContext.CurrentContext.Test.FullName).Uniform(4 * 6, 0f, 1f);
        using var tx = Tensor.FromArray(Cpu, x, 4, 1, 2, 3);
        using var labels = Tensor.FromArray(Cpu, new[] { 0, 1, 0, 1 }, 4);
        var batch = new TrainingBatch(tx, labels, ids, Epoch: 3, Step: 77, Seed: Seed);
        using var noisy = GaussianAugmentation.Noisy(batch, 0.25f);
        float[] got = noisy.ToArray();
        for (int s = 0; s < ids.Length; s++)
        for (int k = 0; k < 6; k++)
        {
            var r = Philox.Draw(Seed, 3, Philox.PurposeNoise, ids[s], (uint)k);
            Assert.That(got[s * 6 + k], Is.EqualTo(x[s * 6 + k] + 0.25f * Philox.Normal(r.X0, r.X1)), $"row {s}, element {k}");
        }
        Assert.That(tx.ToArray(), Is.EqualTo(x), "the clean batch is left as it was");
    }

    [Test]
    public void Noisy_ConsecutiveIds_MatchesTheIdTensorPath()
    {
        using var x = Tensor.Zeros(Cpu, 3, 5);
        using var consecutive = GaussianAugmentation.Noisy(x, 1f, Seed, 2, [10, 11, 12]);
        using var shuffled = GaussianAugmentation.Noisy(x, 1f, Seed, 2, [12, 10, 11]);
        float[] a = consecutive.ToArray(), b = shuffled.ToArray();
        Assert.That(b[5..10], Is.EqualTo(a[..5]));
        Assert.That(b[10..15], Is.EqualTo(a[5..10]));
        Assert.That(b[..5], Is.EqualTo(a[10..15]));
    }
}
