using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>
/// kernels/pool.cu, kernels/channel.cu and cuDNN batch norm against the CPU twins (CpuBackend.Pool.cs,
/// CpuBackend.Channel.cs, CpuBackend.BatchNorm.cs). Shape letters: x N×C×H×W (N×C and N×C×L for the per-channel
/// ops), y N×C×P×Q. Convolution is in ConvParityTests; losses in LossParityTests; SGD and augmentation in
/// OptimParityTests.
/// </summary>
[TestFixture, Category("Gpu")]
public class NnParityTests
{
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    /// <summary>Window, stride, padding per kind on 3×5×11×11, odd and non-square planes; global averaging.</summary>
    public static IEnumerable<TestCaseData> PoolCases()
    {
        int[] x = [3, 5, 11, 11];
        foreach (var kind in new[] { PoolKind.Max, PoolKind.Avg })
        {
            yield return new TestCaseData(x, new PoolParams(kind, 3, 2, 1)).SetArgDisplayNames($"{kind} k3 s2 p1");
            yield return new TestCaseData(x, new PoolParams(kind, 2, 2)).SetArgDisplayNames($"{kind} k2 s2");
            yield return new TestCaseData(x, new PoolParams(kind, 3, 1, 1)).SetArgDisplayNames($"{kind} k3 s1 p1");
            yield return new TestCaseData(new[] { 2, 3, 7, 7 }, new PoolParams(kind, 5, 3, 2))
                .SetArgDisplayNames($"{kind} k5 s3 p2 7x7");
            yield return new TestCaseData(new[] { 2, 3, 6, 9 }, new PoolParams(kind, 3, 2, 1))
                .SetArgDisplayNames($"{kind} k3 s2 p1 6x9");
        }
        yield return new TestCaseData(new[] { 4, 6, 8, 8 }, new PoolParams(PoolKind.Avg, 8, 8))
            .SetArgDisplayNames("global avg");
    }

    /// <summary>
    /// Values from 5 levels (many ties inside a window) and one NaN: max routes to the first maximum in window
    /// order (a NaN wins), and both sides add in the same order, so max agrees bit for bit; average sums in double
    /// on both sides, so it does too.
    /// </summary>
    [TestCaseSource(nameof(PoolCases))]
    public void Pool2d_TiedValuesAndNaN_GpuMatchesCpuExactly(int[] xDims, PoolParams p)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Labels(Count(xDims), 5).Select(v => v * 0.25f).ToArray();
        x[17] = float.NaN;
        var yDims = Ops.Pool2dOutputShape(p, new Shape(xDims)).Dims.ToArray();
        float[] dy = rng.Uniform(Count(yDims));
        (float[] Y, float[] Dx) Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, xDims);
            using var ty = Tensor.Empty(be, DType.Float32, yDims);
            using var tdy = Tensor.FromArray(be, dy, yDims);
            using var tdx = Tensor.FromArray(be, Enumerable.Repeat(123f, x.Length).ToArray(), xDims);
            Ops.Pool2dForward(p, tx, ty);
            Ops.Pool2dBackward(p, tx, ty, tdy, tdx);
            return (ty.ToArray(), tdx.ToArray());
        }
        var (cpu, gpu) = (Run(Backends.Cpu), Run(_gpu));
        AssertClose.All(cpu.Y, gpu.Y, 0, 0, $"{p} forward");
        AssertClose.All(cpu.Dx, gpu.Dx, 0, 0, $"{p} backward");
    }

    [TestCaseSource(nameof(PoolCases))]
    public void Pool2d_RandomInput_GpuMatchesCpu(int[] xDims, PoolParams p)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Normal(Count(xDims));
        var yDims = Ops.Pool2dOutputShape(p, new Shape(xDims)).Dims.ToArray();
        float[] dy = rng.Normal(Count(yDims));
        (float[] Y, float[] Dx) Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, xDims);
            using var ty = Tensor.Empty(be, DType.Float32, yDims);
            using var tdy = Tensor.FromArray(be, dy, yDims);
            using var tdx = Tensor.Empty(be, DType.Float32, xDims);
            Ops.Pool2dForward(p, tx, ty);
            Ops.Pool2dBackward(p, tx, ty, tdy, tdx);
            return (ty.ToArray(), tdx.ToArray());
        }
        var (cpu, gpu) = (Run(Backends.Cpu), Run(_gpu));
        AssertClose.All(cpu.Y, gpu.Y, 0, 0, $"{p} forward, seed {rng.Seed}");
        AssertClose.All(cpu.Dx, gpu.Dx, 0, 0, $"{p} backward, seed {rng.Seed}");
    }

    private static readonly int[][] ChannelShapes = [[3, 5, 11, 11], [7, 6], [2, 3, 4], [1, 1, 1, 1], [64, 3, 32, 32]];

    [Test]
    public void ChannelAffine_EachOperandCombination_GpuMatchesCpu([ValueSource(nameof(ChannelShapes))] int[] dims,
        [Values] bool withScale, [Values] bool withShift, [Values] bool inPlace)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Normal(Count(dims)), scale = rng.Normal(dims[1]), shift = rng.Normal(dims[1]);
        x[0] = -0f;
        float[] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, dims);
            using var ts = Tensor.FromArray(be, scale, dims[1]);
            using var tb = Tensor.FromArray(be, shift, dims[1]);
            using var ty = inPlace ? null : Tensor.Empty(be, DType.Float32, dims);
            Ops.ChannelAffine(tx, withScale ? ts : null, withShift ? tb : null, ty ?? tx);
            return (ty ?? tx).ToArray();
        }
        // Scale and shift together: the GPU may fuse x·s + b into one FMA (one rounding instead of two).
        double tol = withScale && withShift ? 1e-6 : 0;
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), tol, tol, $"scale {withScale}, shift {withShift}");
    }

    [Test]
    public void ChannelSum_RandomInput_GpuMatchesCpuAndRepeatsBitwise([ValueSource(nameof(ChannelShapes))] int[] dims)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Normal(Count(dims));
        float[] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, dims);
            using var ty = Tensor.Empty(be, DType.Float32, dims[1]);
            Ops.ChannelSum(tx, ty);
            return ty.ToArray();
        }
        // Both sides add in double and round once; only the double summation order differs.
        float[] gpu = Run(_gpu);
        AssertClose.All(Run(Backends.Cpu), gpu, 1e-6, 1e-6, $"channel sum {string.Join("x", dims)}");
        Assert.That(Run(_gpu), Is.EqualTo(gpu), "channel_sum_f32 is not bitwise repeatable");
    }

    private static readonly int[][] NormShapes = [[3, 5, 11, 11], [7, 6], [4, 3, 10], [16, 64, 8, 8]];

    /// <summary>Training-mode forward: y, saved mean and 1/std, and the running statistics after one update.</summary>
    [Test]
    public void BatchNormForward_RandomInput_GpuMatchesCpuIncludingRunningStats(
        [ValueSource(nameof(NormShapes))] int[] dims, [Values(0.1f, 0.5f)] float momentum)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int c = dims[1];
        float[] x = rng.Normal(Count(dims)).Select(v => 2f * v + 0.5f).ToArray();
        float[] gamma = rng.Uniform(c, 0.5f, 1.5f), beta = rng.Uniform(c);
        float[] runMean = rng.Uniform(c), runVar = rng.Uniform(c, 0.5f, 2f);
        var p = new BatchNormParams(1e-5f, momentum);
        float[][] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, dims);
            using var tg = Tensor.FromArray(be, gamma, c);
            using var tb = Tensor.FromArray(be, beta, c);
            using var tm = Tensor.FromArray(be, runMean, c);
            using var tv = Tensor.FromArray(be, runVar, c);
            using var ty = Tensor.Empty(be, DType.Float32, dims);
            using var sm = Tensor.Empty(be, DType.Float32, c);
            using var si = Tensor.Empty(be, DType.Float32, c);
            Ops.BatchNormForward(p, tx, tg, tb, tm, tv, ty, sm, si);
            return [ty.ToArray(), sm.ToArray(), si.ToArray(), tm.ToArray(), tv.ToArray()];
        }
        var (cpu, gpu) = (Run(Backends.Cpu), Run(_gpu));
        // cuDNN accumulates the statistics in float: relative error ~1e-6 for these batch sizes.
        AssertClose.All(cpu[0], gpu[0], 2e-5, 1e-5, "y");
        AssertClose.All(cpu[1], gpu[1], 1e-5, 1e-5, "saved mean");
        AssertClose.All(cpu[2], gpu[2], 1e-6, 1e-5, "saved 1/std");
        AssertClose.All(cpu[3], gpu[3], 1e-5, 1e-5, "running mean");
        AssertClose.All(cpu[4], gpu[4], 1e-5, 1e-5, "running variance (unbiased)");
    }

    /// <summary>Both backends get the same saved statistics (the CPU's): only the backward is compared.</summary>
    [Test]
    public void BatchNormBackward_RandomInput_GpuMatchesCpu([ValueSource(nameof(NormShapes))] int[] dims)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int c = dims[1];
        float[] x = rng.Normal(Count(dims)), dy = rng.Normal(Count(dims));
        float[] gamma = rng.Uniform(c, 0.5f, 1.5f);
        var p = new BatchNormParams();
        float[] mean, invStd;
        {
            var cpu = Backends.Cpu;
            using var tx = Tensor.FromArray(cpu, x, dims);
            using var tg = Tensor.FromArray(cpu, gamma, c);
            using var tb = Tensor.Zeros(cpu, c);
            using var tm = Tensor.Zeros(cpu, c);
            using var tv = Tensor.Zeros(cpu, c);
            using var ty = Tensor.Empty(cpu, DType.Float32, dims);
            using var sm = Tensor.Empty(cpu, DType.Float32, c);
            using var si = Tensor.Empty(cpu, DType.Float32, c);
            Ops.BatchNormForward(p, tx, tg, tb, tm, tv, ty, sm, si);
            (mean, invStd) = (sm.ToArray(), si.ToArray());
        }
        float[][] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, dims);
            using var tdy = Tensor.FromArray(be, dy, dims);
            using var tg = Tensor.FromArray(be, gamma, c);
            using var sm = Tensor.FromArray(be, mean, c);
            using var si = Tensor.FromArray(be, invStd, c);
            using var dx = Tensor.Empty(be, DType.Float32, dims);
            using var dg = Tensor.Empty(be, DType.Float32, c);
            using var db = Tensor.Empty(be, DType.Float32, c);
            Ops.BatchNormBackward(p, tx, tdy, tg, sm, si, dx, dg, db);
            return [dx.ToArray(), dg.ToArray(), db.ToArray()];
        }
        var (cpuOut, gpuOut) = (Run(Backends.Cpu), Run(_gpu));
        long m = Count(dims) / c;
        // dγ and dβ sum m = N·H·W terms of size ~1 in float on the GPU.
        AssertClose.All(cpuOut[0], gpuOut[0], 2e-5, 1e-4, "dx");
        AssertClose.All(cpuOut[1], gpuOut[1], 1e-6 * Math.Sqrt(m) * 10, 1e-5, "dgamma");
        AssertClose.All(cpuOut[2], gpuOut[2], 1e-6 * Math.Sqrt(m) * 10, 1e-5, "dbeta");
    }

    private static int Count(int[] dims) => dims.Aggregate(1, (a, b) => a * b);
}
