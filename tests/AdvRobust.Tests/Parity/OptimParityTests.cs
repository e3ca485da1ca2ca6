using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>
/// kernels/optim.cu (fused SGD) and kernels/augment.cu (random crop + flip) against the CPU twins in
/// CpuBackend.Optim.cs. Shape letters: images N×C×H×W.
/// </summary>
[TestFixture, Category("Gpu")]
public class OptimParityTests
{
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static readonly SgdParams[] SgdCases =
    [
        new(0.1f, 0.9f, 5e-4f, false),   // momentum + weight decay
        new(0.1f, 0.9f, 5e-4f, true),    // Nesterov + weight decay
        new(0.05f, 0f, 0f, false),       // plain SGD
        new(0.01f, 0.5f, 0.1f, true),    // Nesterov, strong weight decay
    ];

    /// <summary>Three steps from a zero momentum buffer, a fresh gradient each: weights and buffers agree.</summary>
    [Test]
    public void SgdStep_ThreeSteps_GpuMatchesCpu([ValueSource(nameof(SgdCases))] SgdParams p,
        [Values(1, 1000, 65537)] int n)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] param = rng.Normal(n);
        float[][] grads = [rng.Normal(n), rng.Normal(n), rng.Normal(n)];
        (float[] Param, float[] Buffer) Run(IBackend be)
        {
            using var w = Tensor.FromArray(be, param, n);
            using var buf = Tensor.Zeros(be, n);
            foreach (var g in grads)
            {
                using var tg = Tensor.FromArray(be, g, n);
                Ops.SgdStep(p, w, tg, buf);
            }
            return (w.ToArray(), buf.ToArray());
        }
        var (cpu, gpu) = (Run(Backends.Cpu), Run(_gpu));
        // Same float operations in the same order; the GPU may fuse a multiply-add into an FMA (one rounding less).
        AssertClose.All(cpu.Buffer, gpu.Buffer, 1e-6, 1e-6, $"{p} momentum buffer");
        AssertClose.All(cpu.Param, gpu.Param, 1e-6, 1e-6, $"{p} parameters");
    }

    public static IEnumerable<TestCaseData> CropCases()
    {
        yield return new TestCaseData(new[] { 5, 3, 32, 32 }, 4, true).SetArgDisplayNames("cifar pad 4 flip");
        yield return new TestCaseData(new[] { 5, 3, 32, 32 }, 4, false).SetArgDisplayNames("cifar pad 4");
        yield return new TestCaseData(new[] { 3, 2, 7, 9 }, 3, true).SetArgDisplayNames("7x9 pad 3 flip");
        yield return new TestCaseData(new[] { 4, 1, 5, 5 }, 0, true).SetArgDisplayNames("pad 0 flip only");
        yield return new TestCaseData(new[] { 2, 1, 1, 1 }, 0, false).SetArgDisplayNames("1x1 identity");
    }

    /// <summary>The same Philox draw per sample on both sides: an exact match, wrapping global indices too.</summary>
    [TestCaseSource(nameof(CropCases))]
    public void RandomCropFlip_RandomImages_GpuMatchesCpuExactly(int[] dims, int pad, bool flip)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Uniform(Count(dims), 0f, 1f);
        ulong seed = rng.NextUInt64();
        const uint stream = 5, firstSample = uint.MaxValue - 2;  // samples 3.. wrap to 0, 1, ...
        float[] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, dims);
            using var ty = Tensor.FromArray(be, Enumerable.Repeat(-1f, x.Length).ToArray(), dims);
            Ops.RandomCropFlip(tx, ty, pad, flip, seed, stream, firstSample);
            return ty.ToArray();
        }
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), 0, 0, $"crop/flip {string.Join("x", dims)}, seed {seed}");
    }

    [Test]
    public void RandomCropFlip_BatchSplitOnGpu_MatchesWholeBatchOnCpu()
    {
        int[] whole = [8, 3, 12, 12], half = [4, 3, 12, 12];
        float[] x = new SeededRandom(TestContext.CurrentContext.Test.FullName).Uniform(Count(whole), 0f, 1f);
        int per = Count(half);
        float[] Crop(IBackend be, float[] data, int[] dims, uint firstSample)
        {
            using var tx = Tensor.FromArray(be, data, dims);
            using var ty = Tensor.Empty(be, DType.Float32, dims);
            Ops.RandomCropFlip(tx, ty, 2, true, seed: 77, stream: 1, firstSample);
            return ty.ToArray();
        }
        float[] split = Crop(_gpu, x[..per], half, 100).Concat(Crop(_gpu, x[per..], half, 104)).ToArray();
        AssertClose.All(Crop(Backends.Cpu, x, whole, 100), split, 0, 0, "crop/flip split");
    }

    private static int Count(int[] dims) => dims.Aggregate(1, (a, b) => a * b);
}
