using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Autograd;

/// <summary>
/// F.GatherRows (row selection whose backward is Ops.ScatterAddRows) on the CPU: the scatter-add's order and skips,
/// the exact row copy into −0, the gradient against finite differences, and bit-equality with the one-hot GEMM it
/// replaces in TLA. Shape letters: x N×D, index V, y V×D.
/// </summary>
public class GatherRowsTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void ScatterAddRows_RepeatedAndSkippedIndices_AddsInIndexOrder()
    {
        using var src = Tensor.FromArray(Cpu, new[] { 1f, 2f, 1e8f, 3f, -1e8f, 4f, 5f, 6f }, 4, 2);
        using var index = Tensor.FromArray(Cpu, new[] { 2, 0, 2, -1 }, 4);
        using var dst = Tensor.FromArray(Cpu, new[] { 10f, 20f, 30f, 40f, 0.5f, 50f }, 3, 2);
        Ops.ScatterAddRows(src, index, dst);
        // row 2: (0.5 + 1) + -1e8 = -1e8 + ... in index order: ((0.5 + 1) + (-1e8)) and (50 + 2) + 4.
        Assert.That(dst.ToArray(), Is.EqualTo(new[]
        {
            10f + 1e8f, 20f + 3f, 30f, 40f, (0.5f + 1f) + -1e8f, (50f + 2f) + 4f,
        }));
    }

    [Test]
    public void ScatterAddRows_BadIndex_ThrowsAndLeavesDestination()
    {
        using var src = Tensor.FromArray(Cpu, new[] { 1f, 2f }, 2, 1);
        using var index = Tensor.FromArray(Cpu, new[] { 0, 3 }, 2);
        using var dst = Tensor.FromArray(Cpu, new[] { 7f, 8f }, 2, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.ScatterAddRows(src, index, dst));
        Assert.That(dst.ToArray(), Is.EqualTo(new[] { 7f, 8f }));
    }

    [Test]
    public void ScatterAddRows_IntoNegativeZero_CopiesEveryBitIncludingSignedZeros()
    {
        float[] values = [0f, -0f, 1.5f, float.Epsilon, -3f, float.NaN];
        using var src = Tensor.FromArray(Cpu, values, 3, 2);
        using var dst = Tensor.Empty(Cpu, DType.Float32, 5, 2);
        Ops.Fill(dst, -0f);
        using var rows = Tensor.FromArray(Cpu, new[] { 1, 2, 3 }, 3);
        Ops.ScatterAddRows(src, rows, dst);
        int[] bits = dst.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();
        int negZero = BitConverter.SingleToInt32Bits(-0f);
        Assert.That(bits[2..8], Is.EqualTo(values.Select(BitConverter.SingleToInt32Bits).ToArray()));
        Assert.That(new[] { bits[0], bits[1], bits[8], bits[9] }, Is.All.EqualTo(negZero));
    }

    [Test]
    public void GatherRows_Gradient_MatchesFiniteDifferences()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Normal(5 * 3), w = rng.Normal(4 * 3);
        int[] idx = [4, 0, 4, 2];
        double Loss()
        {
            using var tape = new Tape(Cpu, parameterGradients: false);
            using var xt = Tensor.FromArray(Cpu, x, 5, 3);
            using var wt = Tensor.FromArray(Cpu, w, 4, 3);
            using var it = Tensor.FromArray(Cpu, idx, 4);
            var y = F.GatherRows(tape, tape.Constant(xt), it);
            return F.Sum(tape, F.Mul(tape, y, tape.Constant(wt))).Value.ToArray()[0];
        }
        using var tape = new Tape(Cpu, parameterGradients: false);
        using var xt = Tensor.FromArray(Cpu, x, 5, 3);
        using var wt = Tensor.FromArray(Cpu, w, 4, 3);
        using var it = Tensor.FromArray(Cpu, idx, 4);
        var input = tape.Input(xt);
        var y = F.GatherRows(tape, input, it);
        tape.Backward(F.Sum(tape, F.Mul(tape, y, tape.Constant(wt))));
        float[] expected = FiniteDifference.Gradient(Loss, x);
        AssertClose.All(expected, input.Grad!.ToArray(), 2e-3, 2e-3, "dL/dx");
        Assert.That(input.Grad!.ToArray()[3..6], Is.All.EqualTo(0f), "row 1 is never gathered");
    }

    [Test]
    public void GatherRows_ForwardAndBackward_BitEqualToOneHotGemmOnDistinctRows()
    {
        // TLA's selection of the rows that have a negative: distinct, ascending rows of a B×D embedding.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int b = 7, d = 13;
        int[] rows = [0, 2, 3, 6];
        float[] x = rng.Normal(b * d), g = rng.Normal(rows.Length * d);
        var oneHot = new float[rows.Length * b];
        for (int k = 0; k < rows.Length; k++) oneHot[k * b + rows[k]] = 1f;

        (float[] Y, float[] Dx) Run(Func<Tape, Variable, Variable> select)
        {
            using var tape = new Tape(Cpu, parameterGradients: false);
            using var xt = Tensor.FromArray(Cpu, x, b, d);
            using var gt = Tensor.FromArray(Cpu, g, rows.Length, d);
            var input = tape.Input(xt);
            var y = select(tape, input);
            tape.Backward(F.Sum(tape, F.Mul(tape, y, tape.Constant(gt))));
            return (y.Value.ToArray(), input.Grad!.ToArray());
        }
        using var index = Tensor.FromArray(Cpu, rows, rows.Length);
        using var selection = Tensor.FromArray(Cpu, oneHot, rows.Length, b);
        var gathered = Run((t, v) => F.GatherRows(t, v, index));
        var gemm = Run((t, v) => F.MatMul(t, t.Constant(selection), v));
        Assert.That(Bits(gathered.Y), Is.EqualTo(Bits(gemm.Y)));
        Assert.That(Bits(gathered.Dx), Is.EqualTo(Bits(gemm.Dx)));
    }

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();
}
