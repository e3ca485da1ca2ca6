using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The CPU elementwise ops through the checked façade, against double-precision formulas. Sizes are awkward on
/// purpose: 1 and 7 run only the scalar tail, 33 and 1000 the Vector256 body plus a tail, 65537 and larger the
/// parallel chunks (from 64k elements on two or more cores).
/// </summary>
public class ElementwiseTests
{
    private static readonly int[] Sizes = [1, 7, 33, 1000, 65537];
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    internal static double Forward(UnaryOp op, double x) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Abs => Math.Abs(x),
        UnaryOp.Sign => Math.Sign(x),
        UnaryOp.Relu => Math.Max(x, 0),
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => Math.Log(x),
        UnaryOp.Sqrt => Math.Sqrt(x),
        UnaryOp.Square => x * x,
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Sigmoid => 1 / (1 + Math.Exp(-x)),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    internal static double Forward(BinaryOp op, double a, double b) => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Max => Math.Max(a, b),
        BinaryOp.Min => Math.Min(a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>Inputs inside the op's domain, and at least 0.01 away from the kink of Abs, Sign and Relu.</summary>
    internal static float[] Inputs(SeededRandom rng, UnaryOp op, int n)
    {
        if (op is UnaryOp.Log or UnaryOp.Sqrt) return rng.Uniform(n, 0.1f, 4f);
        var x = rng.Uniform(n, -3f, 3f);
        for (int i = 0; i < n; i++)
            if (MathF.Abs(x[i]) < 0.01f) x[i] += 0.02f;
        return x;
    }

    /// <summary>b for a binary op: bounded away from 0 so Div stays well conditioned.</summary>
    internal static float[] SecondOperand(SeededRandom rng, int n)
    {
        var b = rng.Uniform(n, 0.5f, 2f);
        var sign = rng.Uniform(n);
        for (int i = 0; i < n; i++)
            if (sign[i] < 0) b[i] = -b[i];
        return b;
    }

    [Test]
    public void Unary_RandomInput_MatchesDoubleFormula([Values] UnaryOp op, [ValueSource(nameof(Sizes))] int n)
    {
        var x = Inputs(Rng(), op, n);
        using var tx = Tensor.FromArray(Cpu, x, n);
        using var ty = Ops.Unary(op, tx);
        var expected = x.Select(v => (float)Forward(op, v)).ToArray();
        AssertClose.All(expected, ty.ToArray(), atol: 1e-7, rtol: 1e-6, $"{op} n={n}");
    }

    [Test]
    public void UnaryBackward_RandomInput_MatchesFiniteDifference([Values] UnaryOp op,
        [ValueSource(nameof(Sizes))] int n)
    {
        var rng = Rng();
        var x = Inputs(rng, op, n);
        var dy = rng.Uniform(n);
        using var tx = Tensor.FromArray(Cpu, x, n);
        using var tdy = Tensor.FromArray(Cpu, dy, n);
        using var tdx = Tensor.Empty(Cpu, DType.Float32, n);
        Ops.UnaryBackward(op, tx, tdy, tdx);
        var expected = new float[n];
        for (int i = 0; i < n; i++)
        {
            double h = 1e-4 * Math.Max(1, Math.Abs(x[i]));
            double slope = (Forward(op, x[i] + h) - Forward(op, x[i] - h)) / (2 * h);
            expected[i] = (float)(dy[i] * slope);
        }
        AssertClose.All(expected, tdx.ToArray(), atol: 1e-6, rtol: 1e-5, $"{op}' n={n}");
    }

    [Test]
    public void Binary_RandomInput_MatchesDoubleFormula([Values] BinaryOp op, [ValueSource(nameof(Sizes))] int n)
    {
        var rng = Rng();
        var a = rng.Uniform(n, -3f, 3f);
        var b = SecondOperand(rng, n);
        using var ta = Tensor.FromArray(Cpu, a, n);
        using var tb = Tensor.FromArray(Cpu, b, n);
        using var ty = Tensor.Empty(Cpu, DType.Float32, n);
        Ops.Binary(op, ta, tb, ty);
        var expected = a.Select((v, i) => (float)Forward(op, v, b[i])).ToArray();
        AssertClose.All(expected, ty.ToArray(), atol: 0, rtol: 1e-7, $"{op} n={n}");
    }

    [Test]
    public void Unary_SpecialValues_FollowTheTable()
    {
        // 8 lanes run the vector body, the 3 after them the scalar tail: both must give the table's answer, which
        // is kernels/elementwise.cu's: Sign and Relu map NaN to 0, Abs and Neg propagate it.
        float[] special = [float.NaN, 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 2f, -2f, 0f];
        var x = special.Concat([float.NaN, -0f, float.NegativeInfinity]).ToArray();
        using var tx = Tensor.FromArray(Cpu, x, x.Length);
        float[] Run(UnaryOp op)
        {
            using var y = Ops.Unary(op, tx);
            return y.ToArray();
        }
        float nan = float.NaN, inf = float.PositiveInfinity;
        Assert.Multiple(() =>
        {
            Assert.That(Run(UnaryOp.Sign), Is.EqualTo(new[] { 0f, 0f, 0f, 1f, -1f, 1f, -1f, 0f, 0f, 0f, -1f }));
            Assert.That(Run(UnaryOp.Relu), Is.EqualTo(new[] { 0f, 0f, 0f, inf, 0f, 2f, 0f, 0f, 0f, 0f, 0f }));
            Assert.That(Run(UnaryOp.Abs), Is.EqualTo(new[] { nan, 0f, 0f, inf, inf, 2f, 2f, 0f, nan, 0f, inf }));
            Assert.That(Run(UnaryOp.Neg), Is.EqualTo(new[] { nan, 0f, 0f, -inf, inf, -2f, 2f, 0f, nan, 0f, inf }));
            Assert.That(Run(UnaryOp.Sign).Concat(Run(UnaryOp.Relu)).Where(v => v == 0f).Select(float.IsNegative),
                Has.None.True, "Sign and Relu give +0, never -0");
        });
    }

    [Test]
    public void BinaryMaxMin_NaNOperand_PropagatesNaN()
    {
        float[] a = [float.NaN, 1f, 0f, 3f, -1f, 2f, 5f, 6f, float.NaN, 1f];
        float[] b = [1f, float.NaN, -1f, 4f, -2f, 1f, 5f, 7f, 2f, float.NaN];
        using var ta = Tensor.FromArray(Cpu, a, a.Length);
        using var tb = Tensor.FromArray(Cpu, b, b.Length);
        using var ty = Tensor.Empty(Cpu, DType.Float32, a.Length);
        Ops.Binary(BinaryOp.Max, ta, tb, ty);
        float nan = float.NaN;
        Assert.That(ty.ToArray(), Is.EqualTo(new[] { nan, nan, 0f, 4f, -1f, 2f, 5f, 7f, nan, nan }));
        Ops.Binary(BinaryOp.Min, ta, tb, ty);
        Assert.That(ty.ToArray(), Is.EqualTo(new[] { nan, nan, -1f, 3f, -2f, 1f, 5f, 6f, nan, nan }));
    }

    [Test]
    public void Axpby_RandomInput_MatchesDoubleFormula([ValueSource(nameof(Sizes))] int n)
    {
        var rng = Rng();
        var x = rng.Uniform(n, -3f, 3f);
        var y = rng.Uniform(n, -3f, 3f);
        using var tx = Tensor.FromArray(Cpu, x, n);
        using var ty = Tensor.FromArray(Cpu, y, n);
        Ops.Axpby(0.75f, tx, -1.5f, ty);
        var expected = x.Select((v, i) => (float)(0.75 * v - 1.5 * y[i])).ToArray();
        AssertClose.All(expected, ty.ToArray(), atol: 1e-6, rtol: 1e-6, $"axpby n={n}");
    }

    [Test]
    public void Axpby_BetaZero_StillReadsY([ValueSource(nameof(Sizes))] int n)
    {
        // The formula as written, like the CUDA kernel: 0 * NaN is NaN (unlike GEMM's beta == 0).
        var x = Rng().Uniform(n);
        var y = x.Select((_, i) => i % 3 == 0 ? float.NaN : 5f).ToArray();
        using var tx = Tensor.FromArray(Cpu, x, n);
        using var ty = Tensor.FromArray(Cpu, y, n);
        Ops.Axpby(2f, tx, 0f, ty);
        Assert.That(ty.ToArray(), Is.EqualTo(x.Select((v, i) => i % 3 == 0 ? float.NaN : 2f * v).ToArray()));
    }

    [Test]
    public void Clamp_RandomInput_MatchesDoubleFormula([ValueSource(nameof(Sizes))] int n)
    {
        var x = Rng().Uniform(n, -3f, 3f);
        if (n > 2) x[n / 2] = float.NaN;
        using var tx = Tensor.FromArray(Cpu, x, n);
        using var ty = Tensor.Empty(Cpu, DType.Float32, n);
        Ops.Clamp(tx, -0.5f, 1.25f, ty);
        var expected = x.Select(v => (float)Math.Clamp(v, -0.5, 1.25)).ToArray();
        Assert.That(ty.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Fill_AnySize_WritesEveryElement([ValueSource(nameof(Sizes))] int n)
    {
        using var t = Tensor.FromArray(Cpu, Rng().Uniform(n), n);
        Ops.Fill(t, -2.5f);
        Assert.That(t.ToArray(), Is.All.EqualTo(-2.5f));
    }

    [Test]
    public void Binary_OutputAliasesInput_SameAsSeparateOutput([Values(7, 65537)] int n)
    {
        var rng = Rng();
        var a = rng.Uniform(n);
        var b = SecondOperand(rng, n);
        using var ta = Tensor.FromArray(Cpu, a, n);
        using var tb = Tensor.FromArray(Cpu, b, n);
        using var ty = Tensor.Empty(Cpu, DType.Float32, n);
        Ops.Binary(BinaryOp.Div, ta, tb, ty);
        Ops.Binary(BinaryOp.Div, ta, tb, ta);
        Assert.That(ta.ToArray(), Is.EqualTo(ty.ToArray()));
    }
}
