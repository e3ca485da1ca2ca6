using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// Reductions over the last axis: x is rows×cols (all leading axes flattened into rows), y holds one value per row.
public sealed partial class CpuBackend
{
    /// <summary>
    /// Sum and SumSquares accumulate in double and round once (an empty row sums to 0); Max and Min return NaN
    /// for a row holding a NaN.
    /// </summary>
    public void ReduceRows(ReduceOp op, Tensor x, Tensor y)
    {
        ReadOnlySpan<float> xs = x.F();
        Span<float> ys = y.F();
        int cols = x.Shape[-1];
        for (int r = 0; r < ys.Length; r++)
        {
            var row = xs.Slice(r * cols, cols);
            ys[r] = op switch
            {
                ReduceOp.Sum => Sum(row),
                ReduceOp.SumSquares => SumSquares(row),
                ReduceOp.Max => Extreme(row, max: true),
                ReduceOp.Min => Extreme(row, max: false),
                _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown reduction"),
            };
        }
    }

    private static float Sum(ReadOnlySpan<float> row)
    {
        double sum = 0;
        foreach (float v in row) sum += v;
        return (float)sum;
    }

    private static float SumSquares(ReadOnlySpan<float> row)
    {
        double sum = 0;
        foreach (float v in row) sum += (double)v * v;
        return (float)sum;
    }

    private static float Extreme(ReadOnlySpan<float> row, bool max)
    {
        float best = row[0];
        foreach (float v in row)
        {
            if (float.IsNaN(v)) return v;
            if (max ? v > best : v < best) best = v;
        }
        return best;
    }
}
