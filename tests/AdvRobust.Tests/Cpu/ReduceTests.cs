using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>ReduceRows on the CPU through the checked façade, against a double-precision loop per row.</summary>
public class ReduceTests
{
    private static IBackend Cpu => Backends.Cpu;

    /// <summary>Shapes of x; all axes but the last are rows.</summary>
    private static readonly int[][] Shapes = [[1, 1], [7, 33], [33, 1000], [3, 65537], [1000, 7], [2, 3, 5], [17]];

    internal static float[] Expected(ReduceOp op, float[] x, int cols)
    {
        int rows = cols == 0 ? 1 : x.Length / cols;
        var y = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = x.Skip(r * cols).Take(cols).Select(v => (double)v).ToArray();
            y[r] = (float)(op switch
            {
                ReduceOp.Sum => row.Sum(),
                ReduceOp.SumSquares => row.Sum(v => v * v),
                ReduceOp.Max => row.Max(),
                ReduceOp.Min => row.Min(),
                _ => throw new ArgumentOutOfRangeException(nameof(op)),
            });
        }
        return y;
    }

    [Test]
    public void ReduceRows_RandomInput_MatchesDoubleLoop([Values] ReduceOp op,
        [ValueSource(nameof(Shapes))] int[] shape)
    {
        int cols = shape[^1];
        var x = new SeededRandom(TestContext.CurrentContext.Test.FullName).Uniform(shape.Aggregate(1, (p, d) => p * d));
        using var tx = Tensor.FromArray(Cpu, x, shape);
        using var ty = Tensor.Empty(Cpu, DType.Float32, x.Length / cols);
        Ops.ReduceRows(op, tx, ty);
        // Double accumulation rounded once: within one float rounding of the double answer.
        AssertClose.All(Expected(op, x, cols), ty.ToArray(), atol: 0, rtol: 6e-8, $"{op} {string.Join("x", shape)}");
    }

    [Test]
    public void ReduceRowsSum_Cancellation_AccumulatesInDouble()
    {
        // In float, 1e8 + 1 rounds back to 1e8 and the row would sum to 0.
        using var x = Tensor.FromArray(Cpu, new[] { 1e8f, 1f, -1e8f, 1f, 3e7f, 1f, -3e7f, 1f }, 2, 4);
        using var y = Tensor.Empty(Cpu, DType.Float32, 2);
        Ops.ReduceRows(ReduceOp.Sum, x, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 2f, 2f }));
    }

    [Test]
    public void ReduceRowsMaxMin_NaNAnywhereInRow_GivesNaN([Values(ReduceOp.Max, ReduceOp.Min)] ReduceOp op)
    {
        float nan = float.NaN;
        using var x = Tensor.FromArray(Cpu, new[] { nan, 1f, 2f, 3f, nan, 2f, 1f, 2f, nan, 5f, -1f, 0f }, 4, 3);
        using var y = Tensor.Empty(Cpu, DType.Float32, 4);
        Ops.ReduceRows(op, x, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { nan, nan, nan, op == ReduceOp.Max ? 5f : -1f }));
    }

    [Test]
    public void ReduceRowsSum_EmptyRow_GivesZero([Values(ReduceOp.Sum, ReduceOp.SumSquares)] ReduceOp op)
    {
        using var x = Tensor.Empty(Cpu, DType.Float32, 0);
        using var y = Tensor.FromArray(Cpu, new[] { 7f }, 1);
        Ops.ReduceRows(op, x, y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 0f }));
    }
}
