using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// Softmax cross-entropy (with label smoothing ε) and log-softmax on the CPU. Shape letters: logits N×K, labels N.
public class SoftmaxLossTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(0f)]
    [TestCase(0.3f)]
    public void SoftmaxCrossEntropy_HandCase_MatchesHandValues(float smoothing)
    {
        // exp(logits) = 1, 2, 3: probs 1/6, 1/3, 1/2; label 2. Target (1 − ε)·onehot + ε/3:
        // loss = −(1 − ε + ε/3)·log(1/2) − (ε/3)·(log(1/6) + log(1/3)).
        var (loss, probs) = Forward(new[] { 0f, MathF.Log(2), MathF.Log(3) }, new[] { 2 }, 1, 3, smoothing);
        double e = smoothing;
        double expected = -(1 - e + e / 3) * Math.Log(0.5) - e / 3 * (Math.Log(1.0 / 6) + Math.Log(1.0 / 3));
        Assert.That(loss[0], Is.EqualTo(expected).Within(1e-6));
        AssertClose.All(new[] { 1f / 6, 1f / 3, 0.5f }, probs, 1e-7, 1e-6, "probs");
    }

    [Test]
    public void SoftmaxCrossEntropy_HugeLogits_StaysFinite()
    {
        // exp(1000) overflows float and double; the max-subtracted form gives loss 0 for the winner and 1000 otherwise.
        var (loss, probs) = Forward(new[] { 1000f, 0f, 1000f, 0f }, new[] { 0, 1 }, 2, 2, 0f);
        Assert.That(loss, Is.EqualTo(new[] { 0f, 1000f }));
        Assert.That(probs, Is.EqualTo(new[] { 1f, 0f, 1f, 0f }));
    }

    [Test]
    public void SoftmaxCrossEntropy_LabelOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Forward(new[] { 1f, 2f }, new[] { 2 }, 1, 2, 0f));
    }

    [TestCase(0f)]
    [TestCase(0.1f)]
    public void SoftmaxCrossEntropyBackward_RandomInput_MatchesFiniteDifference(float smoothing)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 4, k = 5;
        float[] z = rng.Normal(n * k, 2f), gradLoss = rng.Normal(n);
        int[] labels = rng.Labels(n, k);
        var (_, probs) = Forward(z, labels, n, k, smoothing);
        using var p = Tensor.FromArray(Cpu, probs, n, k);
        using var y = Tensor.FromArray(Cpu, labels, n);
        using var gl = Tensor.FromArray(Cpu, gradLoss, n);
        using var dz = Tensor.Empty(Cpu, DType.Float32, n, k);
        Ops.SoftmaxCrossEntropyBackward(p, y, smoothing, gl, dz);

        double Loss() => GradCheck.Dot(gradLoss, Forward(z, labels, n, k, smoothing).Loss);
        AssertClose.All(FiniteDifference.Gradient(Loss, z, 1e-3f), dz.ToArray(), 1e-3, 1e-2, $"dz, seed {rng.Seed}");
    }

    [Test]
    public void LogSoftmax_HandCase_MatchesHandValues()
    {
        // log softmax of (0, ln 3) = (−ln 4, ln 3 − ln 4); shifting a row by a constant changes nothing.
        using var x = Tensor.FromArray(Cpu, new[] { 0f, MathF.Log(3), 500f, 500f + MathF.Log(3) }, 2, 2);
        using var y = Tensor.Empty(Cpu, DType.Float32, 2, 2);
        Ops.LogSoftmax(x, y);
        float a = -MathF.Log(4), b = MathF.Log(3) - MathF.Log(4);
        AssertClose.All(new[] { a, b, a, b }, y.ToArray(), 1e-5, 1e-5, "log softmax");
    }

    [Test]
    public void LogSoftmaxBackward_RandomInput_MatchesFiniteDifference()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 3, k = 6;
        float[] z = rng.Normal(n * k, 2f), g = rng.Normal(n * k);
        using var y = Tensor.FromArray(Cpu, LogSoftmax(z, n, k), n, k);
        using var dy = Tensor.FromArray(Cpu, g, n, k);
        using var dx = Tensor.Empty(Cpu, DType.Float32, n, k);
        Ops.LogSoftmaxBackward(y, dy, dx);

        double Loss() => GradCheck.Dot(g, LogSoftmax(z, n, k));
        AssertClose.All(FiniteDifference.Gradient(Loss, z, 1e-3f), dx.ToArray(), 1e-3, 1e-2, $"dx, seed {rng.Seed}");
    }

    private static (float[] Loss, float[] Probs) Forward(float[] z, int[] labels, int n, int k, float smoothing)
    {
        using var logits = Tensor.FromArray(Cpu, z, n, k);
        using var y = Tensor.FromArray(Cpu, labels, n);
        using var loss = Tensor.Empty(Cpu, DType.Float32, n);
        using var probs = Tensor.Empty(Cpu, DType.Float32, n, k);
        Ops.SoftmaxCrossEntropy(logits, y, smoothing, loss, probs);
        return (loss.ToArray(), probs.ToArray());
    }

    private static float[] LogSoftmax(float[] z, int n, int k)
    {
        using var x = Tensor.FromArray(Cpu, z, n, k);
        using var y = Tensor.Empty(Cpu, DType.Float32, n, k);
        Ops.LogSoftmax(x, y);
        return y.ToArray();
    }
}
