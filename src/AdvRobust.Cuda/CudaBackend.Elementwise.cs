using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

public sealed partial class CudaBackend
{
    public void Fill(Tensor y, float value) => Kernels.Fill(P(y), value, y.Length);

    public void Unary(UnaryOp op, Tensor x, Tensor y) => Kernels.UnaryForward(P(x), P(y), x.Length, (int)op);

    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) =>
        Kernels.UnaryBackward(P(x), P(dy), P(dx), x.Length, (int)op);

    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y) =>
        Kernels.BinaryForward(P(a), P(b), P(y), a.Length, (int)op);

    public void Axpby(float alpha, Tensor x, float beta, Tensor y) => Kernels.Axpby(P(x), P(y), alpha, beta, x.Length);

    public void Clamp(Tensor x, float lo, float hi, Tensor y) => Kernels.Clamp(P(x), P(y), lo, hi, x.Length);

    public void ReduceRows(ReduceOp op, Tensor x, Tensor y)
    {
        int cols = x.Rank == 0 ? 1 : x.Shape[-1];
        long rows = x.Rank <= 1 ? 1 : x.Length / Math.Max(cols, 1);
        if (cols == 0)
        {
            Kernels.Fill(P(y), 0f, y.Length);
            return;
        }
        Kernels.ReduceRows(P(x), P(y), rows, cols, (int)op);
    }

    public void GatherRows(Tensor src, Tensor index, Tensor dst) =>
        Kernels.GatherRows(P(src), P(index), P(dst), dst.Shape[0], dst.Shape[1]);
}
