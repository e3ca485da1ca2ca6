using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

/// <summary>
/// The differentiable ops: each computes its forward through the checked <see cref="Ops"/> façade into a tensor the tape
/// owns and records (op, inputs, saved). Their derivatives are in <see cref="Derivatives"/>, one rule per op.
/// </summary>
public static partial class F
{
    public static Variable Unary(Tape tape, UnaryOp op, Variable x)
    {
        var y = tape.Empty(x.Shape.Dims.ToArray());
        Ops.Unary(op, x.Value, y);
        return tape.Record(OpKind.Unary, y, op, [x]);
    }

    public static Variable Relu(Tape tape, Variable x) => Unary(tape, UnaryOp.Relu, x);

    /// <summary>Add, Sub, Mul or Div of two same-shape variables.</summary>
    public static Variable Binary(Tape tape, BinaryOp op, Variable a, Variable b)
    {
        if (op is BinaryOp.Max or BinaryOp.Min) throw new NotSupportedException($"{op} is not differentiable here");
        var y = tape.Empty(a.Shape.Dims.ToArray());
        Ops.Binary(op, a.Value, b.Value, y);
        return tape.Record(OpKind.Binary, y, op, [a, b]);
    }

    public static Variable Add(Tape tape, Variable a, Variable b) => Binary(tape, BinaryOp.Add, a, b);
    public static Variable Sub(Tape tape, Variable a, Variable b) => Binary(tape, BinaryOp.Sub, a, b);
    public static Variable Mul(Tape tape, Variable a, Variable b) => Binary(tape, BinaryOp.Mul, a, b);

    public static Variable Scale(Tape tape, Variable x, float s)
    {
        var y = tape.Empty(x.Shape.Dims.ToArray());
        Ops.Fill(y, 0f);
        Ops.Axpby(s, x.Value, 0f, y);
        return tape.Record(OpKind.Scale, y, s, [x]);
    }

    /// <summary>The same values in another shape (no copy).</summary>
    public static Variable View(Tape tape, Variable x, params int[] dims) =>
        tape.Record(OpKind.View, x.Value.View(dims), x.Shape.Dims.ToArray(), [x]);

    /// <summary>N×C×H×W → N×(C·H·W).</summary>
    public static Variable Flatten(Tape tape, Variable x) =>
        View(tape, x, x.Shape[0], checked((int)x.Shape.PerSample));

    /// <summary>op(A)·op(B) for 2-D variables.</summary>
    public static Variable MatMul(Tape tape, Variable a, Variable b, bool transA = false, bool transB = false)
    {
        int m = transA ? a.Shape[1] : a.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        var y = tape.Empty(m, n);
        Ops.Gemm(a.Value, transA, b.Value, transB, y);
        return tape.Record(OpKind.MatMul, y, (transA, transB), [a, b]);
    }

    /// <summary>The sum of every element, as a one-element tensor.</summary>
    public static Variable Sum(Tape tape, Variable x)
    {
        var y = tape.Empty(1);
        Ops.ReduceRows(ReduceOp.Sum, x.Value.View(1, checked((int)x.Value.Length)), y);
        return tape.Record(OpKind.SumAll, y, null, [x]);
    }

    public static Variable Mean(Tape tape, Variable x) => Scale(tape, Sum(tape, x), 1f / Math.Max(x.Value.Length, 1));
}
