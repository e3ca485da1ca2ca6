using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// Per-sample (per-row) operations the attacks need on device tensors, built from backend ops: a batch x (N×...) is
/// seen as N rows of D = Length / N values. Row selection is exact (it copies values, never computes x + (y − x)), so
/// an adversarial example picked from an iterate is bit-identical to that iterate.
/// </summary>
internal static class Rows
{
    public static int Count(Tensor x) => x.Shape[0];

    public static int Width(Tensor x) => checked((int)x.Shape.PerSample);

    public static Tensor Flat(Tensor x) => x.View(Count(x), Width(x));

    /// <summary>A new tensor holding rows <paramref name="rows"/> of x (Float32), in that order.</summary>
    public static Tensor Gather(Tensor x, int[] rows)
    {
        var dims = x.Shape.Dims.ToArray();
        dims[0] = rows.Length;
        var dst = Tensor.Empty(x.Backend, DType.Float32, dims);
        if (rows.Length == 0) return dst;
        try
        {
            using var index = Tensor.FromArray(x.Backend, rows, rows.Length);
            Ops.GatherRows(Flat(x), index, dst.View(rows.Length, Width(x)));
        }
        catch
        {
            dst.Dispose();
            throw;
        }
        return dst;
    }

    /// <summary>dst[i] = src[from[i]] where from[i] ≥ 0; other rows of dst keep their values. Exact.</summary>
    public static void Merge(Tensor dst, Tensor src, int[] from)
    {
        if (from.Length != Count(dst)) throw new ArgumentException($"{from.Length} row indices for {Count(dst)} rows");
        if (from.All(f => f < 0)) return;
        var keep = new int[from.Length];
        for (int i = 0; i < keep.Length; i++) keep[i] = from[i] >= 0 ? -1 : i;
        int n = Count(dst), d = Width(dst);
        using var keepIndex = Tensor.FromArray(dst.Backend, keep, n);
        using var fromIndex = Tensor.FromArray(dst.Backend, from, n);
        using var kept = Tensor.Empty(dst.Backend, DType.Float32, n, d);
        using var moved = Tensor.Empty(dst.Backend, DType.Float32, n, d);
        // GatherRows writes zero rows for index −1, and v + 0 = v exactly: each row comes from exactly one side.
        Ops.GatherRows(Flat(dst), keepIndex, kept);
        Ops.GatherRows(Flat(src), fromIndex, moved);
        Ops.Binary(BinaryOp.Add, kept, moved, Flat(dst));
    }

    /// <summary>y[i] = x[i]·s[i] (x and y may be the same tensor).</summary>
    public static void Scale(Tensor x, float[] s, Tensor y)
    {
        int n = Count(x), d = Width(x);
        using var scale = Tensor.FromArray(x.Backend, s, n);
        // Axis 1 of the 1×N×D view is the sample: ChannelAffine scales each sample by its own factor.
        Ops.ChannelAffine(x.View(1, n, d), scale, null, y.View(1, n, d));
    }

    /// <summary>‖x[i]‖_∞ or ‖x[i]‖_2 per row, on the host.</summary>
    public static float[] Norms(Tensor x, PgdNorm norm)
    {
        int n = Count(x);
        using var result = Tensor.Empty(x.Backend, DType.Float32, n);
        if (norm == PgdNorm.Linf)
        {
            using var abs = Tensor.Empty(x.Backend, DType.Float32, n, Width(x));
            Ops.Unary(UnaryOp.Abs, Flat(x), abs);
            Ops.ReduceRows(ReduceOp.Max, abs, result);
            return result.ToArray();
        }
        Ops.ReduceRows(ReduceOp.SumSquares, Flat(x), result);
        return result.ToArray().Select(v => (float)Math.Sqrt(v)).ToArray();
    }

    public static Tensor Like(Tensor x) => Tensor.Empty(x.Backend, DType.Float32, x.Shape.Dims.ToArray());

    public static Tensor CopyOf(Tensor x)
    {
        var y = Like(x);
        Ops.Copy(x, y);
        return y;
    }

    public static int[] Where(bool[] flags, bool value = true)
    {
        var rows = new List<int>();
        for (int i = 0; i < flags.Length; i++) if (flags[i] == value) rows.Add(i);
        return [.. rows];
    }

    public static T[] Pick<T>(T[] values, int[] rows) => rows.Select(r => values[r]).ToArray();
}
