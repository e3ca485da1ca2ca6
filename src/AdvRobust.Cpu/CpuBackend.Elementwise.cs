using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// Elementwise ops: the UnaryOp/BinaryOp tables (Ops/UnaryOps.cs, Ops/BinaryOps.cs) through their drivers, plus
// Axpby and Clamp, which carry scalar parameters and so have their own loops of the same shape.
public sealed partial class CpuBackend
{
    public void Fill(Tensor y, float value) => y.F().Fill(value);

    public void Unary(UnaryOp op, Tensor x, Tensor y)
    {
        switch (op)
        {
            case UnaryOp.Neg: UnaryDriver<NegOp>.Forward(x, y); break;
            case UnaryOp.Abs: UnaryDriver<AbsOp>.Forward(x, y); break;
            case UnaryOp.Sign: UnaryDriver<SignOp>.Forward(x, y); break;
            case UnaryOp.Relu: UnaryDriver<ReluOp>.Forward(x, y); break;
            case UnaryOp.Exp: UnaryDriver<ExpOp>.Forward(x, y); break;
            case UnaryOp.Log: UnaryDriver<LogOp>.Forward(x, y); break;
            case UnaryOp.Sqrt: UnaryDriver<SqrtOp>.Forward(x, y); break;
            case UnaryOp.Square: UnaryDriver<SquareOp>.Forward(x, y); break;
            case UnaryOp.Tanh: UnaryDriver<TanhOp>.Forward(x, y); break;
            case UnaryOp.Sigmoid: UnaryDriver<SigmoidOp>.Forward(x, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        }
    }

    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx)
    {
        switch (op)
        {
            case UnaryOp.Neg: UnaryDriver<NegOp>.Backward(x, dy, dx); break;
            case UnaryOp.Abs: UnaryDriver<AbsOp>.Backward(x, dy, dx); break;
            case UnaryOp.Sign: UnaryDriver<SignOp>.Backward(x, dy, dx); break;
            case UnaryOp.Relu: UnaryDriver<ReluOp>.Backward(x, dy, dx); break;
            case UnaryOp.Exp: UnaryDriver<ExpOp>.Backward(x, dy, dx); break;
            case UnaryOp.Log: UnaryDriver<LogOp>.Backward(x, dy, dx); break;
            case UnaryOp.Sqrt: UnaryDriver<SqrtOp>.Backward(x, dy, dx); break;
            case UnaryOp.Square: UnaryDriver<SquareOp>.Backward(x, dy, dx); break;
            case UnaryOp.Tanh: UnaryDriver<TanhOp>.Backward(x, dy, dx); break;
            case UnaryOp.Sigmoid: UnaryDriver<SigmoidOp>.Backward(x, dy, dx); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        }
    }

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        switch (op)
        {
            case BinaryOp.Add: BinaryDriver<AddOp>.Forward(a, b, y); break;
            case BinaryOp.Sub: BinaryDriver<SubOp>.Forward(a, b, y); break;
            case BinaryOp.Mul: BinaryDriver<MulOp>.Forward(a, b, y); break;
            case BinaryOp.Div: BinaryDriver<DivOp>.Forward(a, b, y); break;
            case BinaryOp.Max: BinaryDriver<MaxOp>.Forward(a, b, y); break;
            case BinaryOp.Min: BinaryDriver<MinOp>.Forward(a, b, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        }
    }

    /// <summary>
    /// y = alpha * x + beta * y, as written: beta == 0 still reads y (NaN in y stays NaN), as kernels/elementwise.cu
    /// does; products and sum are rounded separately (no FMA), in the vector body and the tail alike.
    /// </summary>
    public void Axpby(float alpha, Tensor x, float beta, Tensor y) =>
        ElementwiseChunks.For(y.Length, (s, n) => Axpby(alpha, x.F().Slice(s, n), beta, y.F().Slice(s, n)));

    /// <summary>y = x &lt; lo ? lo : x &gt; hi ? hi : x (Math.Clamp, kernels' clamp_f): NaN stays NaN.</summary>
    public void Clamp(Tensor x, float lo, float hi, Tensor y) =>
        ElementwiseChunks.For(x.Length, (s, n) => Clamp(x.F().Slice(s, n), lo, hi, y.F().Slice(s, n)));

    internal static void Axpby(float alpha, ReadOnlySpan<float> x, float beta, Span<float> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float xs = ref MemoryMarshal.GetReference(x);
            ref float ys = ref MemoryMarshal.GetReference(y);
            Vector256<float> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var r = va * Vector256.LoadUnsafe(ref xs, (nuint)i) + vb * Vector256.LoadUnsafe(ref ys, (nuint)i);
                r.StoreUnsafe(ref ys, (nuint)i);
            }
        }
        for (; i < x.Length; i++) y[i] = alpha * x[i] + beta * y[i];
    }

    internal static void Clamp(ReadOnlySpan<float> x, float lo, float hi, Span<float> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float xs = ref MemoryMarshal.GetReference(x);
            ref float ys = ref MemoryMarshal.GetReference(y);
            Vector256<float> vlo = Vector256.Create(lo), vhi = Vector256.Create(hi);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref xs, (nuint)i);
                v = Vector256.ConditionalSelect(Vector256.GreaterThan(v, vhi), vhi, v);
                Vector256.ConditionalSelect(Vector256.LessThan(v, vlo), vlo, v).StoreUnsafe(ref ys, (nuint)i);
            }
        }
        for (; i < x.Length; i++) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
    }
}
