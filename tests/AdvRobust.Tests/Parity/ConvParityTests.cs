using System.Runtime.InteropServices;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>
/// cuDNN convolution (CudnnConvolutions) against the CPU twin (im2col + SGEMM, CpuBackend.Conv.cs), all three passes.
/// Shape letters: x N×C×H×W, w K×C×R×S, y N×K×P×Q. The GPU tests carry Category "Gpu"; the binding tests run anywhere.
/// </summary>
public class ConvParityTests
{
    /// <summary>x dims, w dims, stride, padding: the awkward N=3, C=5, 11×11, K=7 family; a ResNet layer.</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        int[] x = [3, 5, 11, 11];
        yield return new TestCaseData(x, new[] { 7, 5, 3, 3 }, 1, 1).SetArgDisplayNames("3x3 s1 p1");
        yield return new TestCaseData(x, new[] { 7, 5, 3, 3 }, 2, 1).SetArgDisplayNames("3x3 s2 p1");
        yield return new TestCaseData(x, new[] { 7, 5, 5, 5 }, 1, 2).SetArgDisplayNames("5x5 s1 p2");
        yield return new TestCaseData(x, new[] { 7, 5, 1, 1 }, 2, 0).SetArgDisplayNames("1x1 s2 p0");
        yield return new TestCaseData(new[] { 2, 3, 9, 6 }, new[] { 4, 3, 3, 3 }, 2, 1).SetArgDisplayNames("9x6 s2 p1");
        yield return new TestCaseData(new[] { 4, 64, 8, 8 }, new[] { 64, 64, 3, 3 }, 1, 1)
            .SetArgDisplayNames("resnet 64");
    }

    [TestCaseSource(nameof(Cases)), Category("Gpu")]
    public void Conv2dForward_RandomInput_GpuMatchesCpu(int[] xDims, int[] wDims, int stride, int pad)
    {
        var gpu = Backends.CudaOrIgnore();
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        float[] x = rng.Uniform(Count(xDims)), w = rng.Uniform(Count(wDims));
        var yDims = Ops.Conv2dOutputShape(p, new Shape(xDims), new Shape(wDims)).Dims.ToArray();
        float[] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, xDims);
            using var tw = Tensor.FromArray(be, w, wDims);
            using var ty = Tensor.Empty(be, DType.Float32, yDims);
            Ops.Conv2dForward(p, tx, tw, ty);
            return ty.ToArray();
        }
        int sumLength = wDims[1] * wDims[2] * wDims[3];
        var (atol, rtol) = Fp32Tolerance(sumLength);
        AssertClose.All(Run(Backends.Cpu), Run(gpu), atol, rtol, $"forward, C·R·S = {sumLength}, seed {rng.Seed}");
    }

    [TestCaseSource(nameof(Cases)), Category("Gpu")]
    public void Conv2dBackwardData_RandomInput_GpuMatchesCpu(int[] xDims, int[] wDims, int stride, int pad)
    {
        var gpu = Backends.CudaOrIgnore();
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        var yDims = Ops.Conv2dOutputShape(p, new Shape(xDims), new Shape(wDims)).Dims.ToArray();
        float[] dy = rng.Uniform(Count(yDims)), w = rng.Uniform(Count(wDims));
        float[] Run(IBackend be)
        {
            using var tdy = Tensor.FromArray(be, dy, yDims);
            using var tw = Tensor.FromArray(be, w, wDims);
            using var tdx = Tensor.Empty(be, DType.Float32, xDims);
            Ops.Conv2dBackwardData(p, tdy, tw, tdx);
            return tdx.ToArray();
        }
        // Each dx sums at most K·R·S products (fewer with stride 2).
        int sumLength = wDims[0] * wDims[2] * wDims[3];
        var (atol, rtol) = Fp32Tolerance(sumLength);
        AssertClose.All(Run(Backends.Cpu), Run(gpu), atol, rtol,
            $"backward data, K·R·S = {sumLength}, seed {rng.Seed}");
    }

    [TestCaseSource(nameof(Cases)), Category("Gpu")]
    public void Conv2dBackwardFilter_RandomInput_GpuMatchesCpu(int[] xDims, int[] wDims, int stride, int pad)
    {
        var gpu = Backends.CudaOrIgnore();
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var p = new ConvParams(stride, pad);
        var yDims = Ops.Conv2dOutputShape(p, new Shape(xDims), new Shape(wDims)).Dims.ToArray();
        float[] x = rng.Uniform(Count(xDims)), dy = rng.Uniform(Count(yDims));
        float[] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, xDims);
            using var tdy = Tensor.FromArray(be, dy, yDims);
            using var tdw = Tensor.Empty(be, DType.Float32, wDims);
            Ops.Conv2dBackwardFilter(p, tx, tdy, tdw);
            return tdw.ToArray();
        }
        // Each dw sums N·P·Q products.
        int sumLength = yDims[0] * yDims[2] * yDims[3];
        var (atol, rtol) = Fp32Tolerance(sumLength);
        AssertClose.All(Run(Backends.Cpu), Run(gpu), atol, rtol,
            $"backward filter, N·P·Q = {sumLength}, seed {rng.Seed}");
    }

    /// <summary>
    /// TF32 tensor cores round both operands to a 10-bit mantissa (relative error up to 2⁻¹¹ each), so a sum of L
    /// products drifts by about 1e-3·√L·|x·w| at most: the tolerance is looser than FP32's and grows with √L. The
    /// choice is cached apart from the FP32 one (the TF32 flag is part of the key).
    /// </summary>
    [Test, Category("Gpu")]
    public void Conv2dForward_Tf32Allowed_MatchesCpuWithinTf32Tolerance()
    {
        var gpu = (CudaBackend)Backends.CudaOrIgnore();
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int[] xDims = [8, 64, 16, 16], wDims = [64, 64, 3, 3];
        var p = new ConvParams(1, 1);
        float[] x = rng.Uniform(Count(xDims)), w = rng.Uniform(Count(wDims));
        float[] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, xDims);
            using var tw = Tensor.FromArray(be, w, wDims);
            using var ty = Tensor.Empty(be, DType.Float32, xDims[0], wDims[0], xDims[2], xDims[3]);
            Ops.Conv2dForward(p, tx, tw, ty);
            return ty.ToArray();
        }
        bool before = gpu.Context.AllowTf32;
        float[] tf32;
        try
        {
            gpu.Context.AllowTf32 = true;
            tf32 = Run(gpu);
        }
        finally
        {
            gpu.Context.AllowTf32 = before;
        }
        int sumLength = wDims[1] * wDims[2] * wDims[3];
        AssertClose.All(Run(Backends.Cpu), tf32, 2e-3 * Math.Sqrt(sumLength), 5e-3, $"TF32 forward, L = {sumLength}");
        var keys = gpu.Convolutions.Algorithms.Snapshot().Keys
            .Where(k => k.X.Equals(new Shape(xDims)) && k.W.Equals(new Shape(wDims)) && k.Pass == ConvPass.Forward);
        Assert.That(keys.Any(k => k.Tf32), Is.True, "no TF32 entry in the algorithm cache");
    }

    [Test, Category("Gpu")]
    public void Conv2dForward_SameShapeTwice_FindsAlgorithmOnceAndReusesWorkspace()
    {
        var gpu = (CudaBackend)Backends.CudaOrIgnore();
        int[] xDims = [2, 3, 13, 13], wDims = [5, 3, 3, 3];
        var p = new ConvParams(2, 1);
        using var tx = Tensor.Zeros(gpu, xDims);
        using var tw = Tensor.Zeros(gpu, wDims);
        using var ty = Tensor.Empty(gpu, DType.Float32, Ops.Conv2dOutputShape(p, tx.Shape, tw.Shape).Dims.ToArray());
        Ops.Conv2dForward(p, tx, tw, ty);
        int entries = gpu.Convolutions.Algorithms.Count;
        long workspace = gpu.Convolutions.WorkspaceBytes;
        Ops.Conv2dForward(p, tx, tw, ty);
        Assert.That(gpu.Convolutions.Algorithms.Count, Is.EqualTo(entries), "the second call searched again");
        Assert.That(gpu.Convolutions.WorkspaceBytes, Is.EqualTo(workspace), "the workspace changed for the same shape");
        Assert.That(ty.ToArray(), Is.All.EqualTo(0f));
    }

    [Test, Category("Gpu")]
    public void Conv2dBackwardFilter_EmptyBatch_WritesZeros()
    {
        var gpu = Backends.CudaOrIgnore();
        using var x = Tensor.Zeros(gpu, 0, 3, 5, 5);
        using var dy = Tensor.Zeros(gpu, 0, 4, 5, 5);
        using var dw = Tensor.FromArray(gpu, Enumerable.Repeat(7f, 4 * 3 * 3 * 3).ToArray(), 4, 3, 3, 3);
        Ops.Conv2dBackwardFilter(new ConvParams(1, 1), x, dy, dw);
        Assert.That(dw.ToArray(), Is.All.EqualTo(0f));
    }

    // ---- bindings (no GPU needed) ----

    [Test]
    public void CudnnPerfStructs_Layout_MatchesCudnnCnnHeader()
    {
        // cudnn_cnn.h 9.14: algo, status, time (4 B each), size_t memory at 16, determinism at 24, mathType at 28,
        // int reserved[3]: 48 bytes on 64-bit platforms.
        foreach (var t in new[]
                 {
                     typeof(cudnnConvolutionFwdAlgoPerf_t), typeof(cudnnConvolutionBwdDataAlgoPerf_t),
                     typeof(cudnnConvolutionBwdFilterAlgoPerf_t),
                 })
        {
            Assert.That(Marshal.SizeOf(t), Is.EqualTo(48), t.Name);
            Assert.That((int)Marshal.OffsetOf(t, "memory"), Is.EqualTo(16), t.Name);
            Assert.That((int)Marshal.OffsetOf(t, "determinism"), Is.EqualTo(24), t.Name);
            Assert.That((int)Marshal.OffsetOf(t, "mathType"), Is.EqualTo(28), t.Name);
        }
    }

    [Test]
    public void ConvAlgorithmPick_FailedAndNondeterministicResults_SkipsThemAndForcesFmaWithoutTf32()
    {
        (int, cudnnStatus_t, float, long, cudnnDeterminism_t, cudnnMathType_t)[] found =
        [
            (6, cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED, -1f, 0, cudnnDeterminism_t.CUDNN_DETERMINISTIC,
                cudnnMathType_t.CUDNN_FMA_MATH),
            (0, cudnnStatus_t.CUDNN_STATUS_SUCCESS, 0.5f, 0, cudnnDeterminism_t.CUDNN_NON_DETERMINISTIC,
                cudnnMathType_t.CUDNN_TENSOR_OP_MATH),
            (1, cudnnStatus_t.CUDNN_STATUS_SUCCESS, 0.7f, 4096, cudnnDeterminism_t.CUDNN_DETERMINISTIC,
                cudnnMathType_t.CUDNN_DEFAULT_MATH),
        ];
        var fastest = ConvAlgorithmCache.Pick(found, tf32: false, deterministic: false, "test");
        Assert.That(fastest, Is.EqualTo(new ConvAlgorithm(0, cudnnMathType_t.CUDNN_FMA_MATH, 0, 0.5f)));
        var deterministic = ConvAlgorithmCache.Pick(found, tf32: true, deterministic: true, "test");
        Assert.That(deterministic, Is.EqualTo(new ConvAlgorithm(1, cudnnMathType_t.CUDNN_DEFAULT_MATH, 4096, 0.7f)));
        Assert.Throws<NotSupportedException>(() => ConvAlgorithmCache.Pick(found[..1], false, false, "test"));
    }

    private static int Count(int[] dims) => dims.Aggregate(1, (a, b) => a * b);

    /// <summary>
    /// Both sides sum L float products in different orders (cuDNN may also use FFT or Winograd transforms): allow
    /// 2e-6 per summed term plus 1e-4 relative. Inputs are uniform in [−1, 1], so outputs are about √L/3 in size.
    /// </summary>
    private static (double Atol, double Rtol) Fp32Tolerance(int sumLength) => (2e-6 * sumLength, 1e-4);
}
