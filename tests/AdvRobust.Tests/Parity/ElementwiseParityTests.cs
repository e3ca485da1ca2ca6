using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Cpu.ElementwiseTests;

namespace AdvRobust.Tests.Parity;

/// <summary>kernels/elementwise.cu against the CPU reference on the same seeded inputs of awkward sizes.</summary>
[TestFixture, Category("Gpu")]
public class ElementwiseParityTests
{
    private static readonly int[] Sizes = [1, 7, 33, 1000, 65537, (1 << 20) + 3];
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    /// <summary>Runs body on the CPU and on the GPU and returns both results.</summary>
    private (float[] Cpu, float[] Gpu) Both(Func<IBackend, float[]> body) => (body(Backends.Cpu), body(_gpu));

    [Test]
    public void Unary_RandomInput_GpuMatchesCpu([Values] UnaryOp op, [ValueSource(nameof(Sizes))] int n)
    {
        var x = Inputs(Rng(), op, n);
        var (cpu, gpu) = Both(be =>
        {
            using var tx = Tensor.FromArray(be, x, n);
            using var ty = Ops.Unary(op, tx);
            return ty.ToArray();
        });
        AssertClose.All(cpu, gpu, atol: 1e-6, rtol: 1e-5, $"{op} n={n}");
    }

    [Test]
    public void UnaryBackward_RandomInput_GpuMatchesCpu([Values] UnaryOp op, [ValueSource(nameof(Sizes))] int n)
    {
        var rng = Rng();
        var x = Inputs(rng, op, n);
        var dy = rng.Uniform(n);
        var (cpu, gpu) = Both(be =>
        {
            using var tx = Tensor.FromArray(be, x, n);
            using var tdy = Tensor.FromArray(be, dy, n);
            using var tdx = Tensor.Empty(be, DType.Float32, n);
            Ops.UnaryBackward(op, tx, tdy, tdx);
            return tdx.ToArray();
        });
        AssertClose.All(cpu, gpu, atol: 1e-6, rtol: 1e-5, $"{op}' n={n}");
    }

    [Test]
    public void Unary_SpecialValues_GpuMatchesCpu([Values] UnaryOp op)
    {
        float[] x = [float.NaN, 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 2f, -2f, 1e-30f, -1e-30f];
        var (cpu, gpu) = Both(be =>
        {
            using var tx = Tensor.FromArray(be, x, x.Length);
            using var ty = Ops.Unary(op, tx);
            return ty.ToArray();
        });
        AssertClose.All(cpu, gpu, atol: 0, rtol: 1e-6, $"{op} on NaN, ±0, ±inf");
    }

    [Test]
    public void Binary_RandomInput_GpuMatchesCpu([Values] BinaryOp op, [ValueSource(nameof(Sizes))] int n)
    {
        var rng = Rng();
        var a = rng.Uniform(n, -3f, 3f);
        var b = SecondOperand(rng, n);
        if (n > 2) a[n / 2] = float.NaN;
        var (cpu, gpu) = Both(be =>
        {
            using var ta = Tensor.FromArray(be, a, n);
            using var tb = Tensor.FromArray(be, b, n);
            using var ty = Tensor.Empty(be, DType.Float32, n);
            Ops.Binary(op, ta, tb, ty);
            return ty.ToArray();
        });
        AssertClose.All(cpu, gpu, atol: 0, rtol: 1e-6, $"{op} n={n}");
    }

    [Test]
    public void AxpbyClampFill_RandomInput_GpuMatchesCpu([ValueSource(nameof(Sizes))] int n)
    {
        var rng = Rng();
        var x = rng.Uniform(n, -3f, 3f);
        var y = rng.Uniform(n, -3f, 3f);
        var nan = Enumerable.Repeat(float.NaN, n).ToArray();
        if (n > 2) x[n / 2] = float.NaN;
        var (cpu, gpu) = Both(be =>
        {
            using var tx = Tensor.FromArray(be, x, n);
            using var ty = Tensor.FromArray(be, y, n);
            using var tz = Tensor.FromArray(be, nan, n);
            using var tc = Tensor.Empty(be, DType.Float32, n);
            using var tf = Tensor.Empty(be, DType.Float32, n);
            Ops.Axpby(0.75f, tx, -1.5f, ty);
            Ops.Axpby(2f, tx, 0f, tz); // beta == 0 still reads y: NaN stays NaN on both
            Ops.Clamp(tx, -0.5f, 1.25f, tc);
            Ops.Fill(tf, 3.5f);
            return [.. ty.ToArray(), .. tz.ToArray(), .. tc.ToArray(), .. tf.ToArray()];
        });
        AssertClose.All(cpu, gpu, atol: 1e-6, rtol: 1e-6, $"axpby, axpby beta=0 on NaN, clamp, fill; n={n}");
    }
}
