using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>
/// kernels/loss.cu against the CPU twin (CpuBackend.Loss.cs): softmax cross-entropy with label smoothing, log-softmax,
/// and the CW / DLR / targeted-DLR margins, forward and backward. Shape letters: logits N×K, labels N.
/// </summary>
[TestFixture, Category("Gpu")]
public class LossParityTests
{
    // N rows × K classes: one row, odd sizes around a warp (31, 33), CIFAR-10/100 and a 1000-class row.
    private static readonly int[][] Shapes = [[1, 4], [5, 10], [37, 33], [64, 100], [3, 31], [4, 1000]];
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    [Test]
    public void SoftmaxCrossEntropy_RandomLogits_GpuMatchesCpu([ValueSource(nameof(Shapes))] int[] shape,
        [Values(0f, 0.1f)] float smoothing)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int n = shape[0], k = shape[1];
        float[] logits = rng.Normal(n * k, 3f);
        int[] labels = rng.Labels(n, k);
        float[] gradLoss = rng.Uniform(n, 0.1f, 2f);
        (float[] Loss, float[] Probs, float[] Grad) Run(IBackend be)
        {
            using var z = Tensor.FromArray(be, logits, n, k);
            using var y = Tensor.FromArray(be, labels, n);
            using var loss = Tensor.Empty(be, DType.Float32, n);
            using var probs = Tensor.Empty(be, DType.Float32, n, k);
            using var g = Tensor.FromArray(be, gradLoss, n);
            using var dz = Tensor.Empty(be, DType.Float32, n, k);
            Ops.SoftmaxCrossEntropy(z, y, smoothing, loss, probs);
            Ops.SoftmaxCrossEntropyBackward(probs, y, smoothing, g, dz);
            return (loss.ToArray(), probs.ToArray(), dz.ToArray());
        }
        var (cpu, gpu) = (Run(Backends.Cpu), Run(_gpu));
        // The GPU works in float (lse rounded to ~1e-7 of its size, K-term float sums), the CPU in double.
        AssertClose.All(cpu.Loss, gpu.Loss, 1e-5, 1e-5, $"loss, seed {rng.Seed}");
        AssertClose.All(cpu.Probs, gpu.Probs, 1e-7, 1e-5, $"probs, seed {rng.Seed}");
        AssertClose.All(cpu.Grad, gpu.Grad, 1e-5, 1e-5, $"grad, seed {rng.Seed}");
    }

    [Test]
    public void LogSoftmax_RandomLogits_GpuMatchesCpu([ValueSource(nameof(Shapes))] int[] shape)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int n = shape[0], k = shape[1];
        float[] logits = rng.Normal(n * k, 3f), dout = rng.Normal(n * k);
        (float[] Y, float[] Dx) Run(IBackend be)
        {
            using var z = Tensor.FromArray(be, logits, n, k);
            using var y = Tensor.Empty(be, DType.Float32, n, k);
            using var dy = Tensor.FromArray(be, dout, n, k);
            using var dx = Tensor.Empty(be, DType.Float32, n, k);
            Ops.LogSoftmax(z, y);
            Ops.LogSoftmaxBackward(y, dy, dx);
            return (y.ToArray(), dx.ToArray());
        }
        var (cpu, gpu) = (Run(Backends.Cpu), Run(_gpu));
        // log p is about −lse for small p (|y| up to ~20 here): float rounding of lse dominates.
        AssertClose.All(cpu.Y, gpu.Y, 1e-5, 1e-6, $"log-softmax, seed {rng.Seed}");
        AssertClose.All(cpu.Dx, gpu.Dx, 1e-5 * Math.Sqrt(k), 1e-5, $"log-softmax backward, seed {rng.Seed}");
    }

    /// <summary>
    /// Margins pick the same classes on both sides and compute in double from the same float logits, adding the
    /// terms of a class in the same order: agreement to the last bit is expected (one float ulp allowed).
    /// </summary>
    [Test]
    public void MarginLoss_RandomLogits_GpuMatchesCpu([Values] MarginKind kind,
        [ValueSource(nameof(Shapes))] int[] shape)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int n = shape[0], k = shape[1];
        float[] logits = rng.Normal(n * k, 3f);
        AssertMarginParity(kind, n, k, logits, rng.Labels(n, k), rng.Labels(n, k), rng.Uniform(n, 0.1f, 2f),
            $"{kind} {n}x{k}, seed {rng.Seed}");
    }

    /// <summary>Logits from 3 levels: many ties for j*, π1, π3, π4 (lowest index wins); some target = label.</summary>
    [Test]
    public void MarginLoss_TiedLogits_GpuPicksTheSameClassesAsCpu([Values] MarginKind kind)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 40, k = 10;
        float[] logits = rng.Labels(n * k, 3).Select(v => (float)v).ToArray();
        int[] labels = rng.Labels(n, k), targets = rng.Labels(n, k);
        for (int i = 0; i < n; i += 5) targets[i] = labels[i];
        AssertMarginParity(kind, n, k, logits, labels, targets, rng.Uniform(n, 0.1f, 2f), $"{kind} ties");
    }

    private void AssertMarginParity(MarginKind kind, int n, int k, float[] logits, int[] labels, int[] targets,
        float[] gradLoss, string what)
    {
        (float[] Loss, float[] Grad) Run(IBackend be)
        {
            using var z = Tensor.FromArray(be, logits, n, k);
            using var y = Tensor.FromArray(be, labels, n);
            using var t = kind == MarginKind.TargetedDlr ? Tensor.FromArray(be, targets, n) : null;
            using var loss = Tensor.Empty(be, DType.Float32, n);
            using var g = Tensor.FromArray(be, gradLoss, n);
            using var dz = Tensor.FromArray(be, Enumerable.Repeat(9f, n * k).ToArray(), n, k);
            Ops.MarginLoss(kind, z, y, t, loss);
            Ops.MarginLossBackward(kind, z, y, t, g, dz);
            return (loss.ToArray(), dz.ToArray());
        }
        var (cpu, gpu) = (Run(Backends.Cpu), Run(_gpu));
        AssertClose.All(cpu.Loss, gpu.Loss, 0, 2e-7, what + " loss");
        AssertClose.All(cpu.Grad, gpu.Grad, 0, 2e-7, what + " grad");
    }
}
