using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

public static partial class F
{
    /// <summary>
    /// Row selection y[i,:] = x[index[i],:] for x N×D and an Int32 index of V rows on the device (−1 gives a zero
    /// row), differentiable in x: the backward is dx = 0 then dx[index[i],:] += dy[i,:] in increasing i
    /// (<see cref="Ops.ScatterAddRows"/>), deterministic on every backend. It replaces a V×N one-hot GEMM: for finite
    /// values the forward is the same numbers (1·v plus zeros is v), and it costs V·D instead of V·N·D.
    /// </summary>
    public static Variable GatherRows(Tape tape, Variable x, Tensor index)
    {
        if (x.Shape.Rank != 2) throw new ArgumentException($"GatherRows: x must be 2-D, got {x.Shape}");
        var y = tape.Empty(index.Shape[0], x.Shape[1]);
        Ops.GatherRows(x.Value, index, y);
        return tape.Record(OpKind.GatherRows, y, index, [x]);
    }

    /// <summary>The derivative rule of <see cref="GatherRows(Tape, Variable, Tensor)"/> (called from the table in
    /// <see cref="Derivatives"/>): a zero gradient of x's shape with each dy row added to the row it came from.</summary>
    internal static Tensor GatherRowsBackward(Node n, Tensor g, Tape t)
    {
        var dx = t.Empty(n.Inputs[0].Shape.Dims.ToArray());
        Ops.Fill(dx, 0f);
        Ops.ScatterAddRows(g, (Tensor)n.Attributes!, dx);
        return dx;
    }
}
