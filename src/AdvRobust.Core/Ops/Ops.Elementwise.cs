using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

public static partial class Ops
{
    public static void Fill(Tensor y, float value)
    {
        RequireF32(nameof(Fill), y);
        y.Storage.MarkWritten();
        y.Backend.Fill(y, value);
    }

    public static void Copy(Tensor src, Tensor dst)
    {
        dst.Storage.MarkWritten();
        SameBackend(nameof(Copy), src, dst).Copy(SameShapeAndType(nameof(Copy), src, dst), dst);
    }

    public static Tensor Unary(UnaryOp op, Tensor x)
    {
        RequireF32(op.ToString(), x);
        var y = Tensor.Empty(x.Backend, DType.Float32, x.Shape.Dims.ToArray());
        x.Backend.Unary(op, x, y);
        return y;
    }

    public static void Unary(UnaryOp op, Tensor x, Tensor y)
    {
        var backend = SameBackend(op.ToString(), x, y);
        RequireF32(op.ToString(), x);
        RequireSameShape(op.ToString(), x, y);
        y.Storage.MarkWritten();
        backend.Unary(op, x, y);
    }

    public static void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx)
    {
        string name = op + "Backward";
        var backend = SameBackend(name, x, dy, dx);
        RequireF32(name, x);
        RequireSameShape(name, x, dy);
        RequireSameShape(name, x, dx);
        backend.UnaryBackward(op, x, dy, dx);
    }

    public static void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        var backend = SameBackend(op.ToString(), a, b, y);
        RequireF32(op.ToString(), a);
        RequireSameShape(op.ToString(), a, b);
        RequireSameShape(op.ToString(), a, y);
        y.Storage.MarkWritten();
        backend.Binary(op, a, b, y);
    }

    /// <summary>y = alpha * x + beta * y.</summary>
    public static void Axpby(float alpha, Tensor x, float beta, Tensor y)
    {
        var backend = SameBackend(nameof(Axpby), x, y);
        RequireF32(nameof(Axpby), x);
        RequireSameShape(nameof(Axpby), x, y);
        y.Storage.MarkWritten();
        backend.Axpby(alpha, x, beta, y);
    }

    public static void Clamp(Tensor x, float lo, float hi, Tensor y)
    {
        var backend = SameBackend(nameof(Clamp), x, y);
        RequireF32(nameof(Clamp), x);
        RequireSameShape(nameof(Clamp), x, y);
        Require(lo <= hi, nameof(Clamp), $"lo {lo} is above hi {hi}");
        y.Storage.MarkWritten();
        backend.Clamp(x, lo, hi, y);
    }

    /// <summary>Reduces each row of x (all axes but the last flattened into rows) into y[rows].</summary>
    public static void ReduceRows(ReduceOp op, Tensor x, Tensor y)
    {
        string name = "ReduceRows." + op;
        var backend = SameBackend(name, x, y);
        RequireF32(name, x);
        RequireF32(name, y);
        Require(x.Rank >= 1, name, "x must have at least one axis");
        long rows = 1;
        for (int axis = 0; axis < x.Rank - 1; axis++) rows *= x.Shape[axis];
        Require(y.Length == rows, name, $"y must hold {rows} values (one per row of x {x.Shape}), got {y.Shape}");
        Require(x.Shape[-1] > 0 || op is ReduceOp.Sum or ReduceOp.SumSquares, name, "max/min of an empty row");
        backend.ReduceRows(op, x, y);
    }

    private static Tensor SameShapeAndType(string op, Tensor src, Tensor dst)
    {
        RequireSameShape(op, src, dst);
        Require(src.DType == dst.DType, op, $"dtypes differ ({src.DType} and {dst.DType})");
        return src;
    }
}
