using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// PLACEHOLDER — being written by a helper; replaced before commit.
public sealed partial class CpuBackend
{
    public void Fill(Tensor y, float value) => y.F().Fill(value);
    public void Unary(UnaryOp op, Tensor x, Tensor y) => throw new NotImplementedException();
    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) => throw new NotImplementedException();
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y) => throw new NotImplementedException();
    public void Axpby(float alpha, Tensor x, float beta, Tensor y) => throw new NotImplementedException();
    public void Clamp(Tensor x, float lo, float hi, Tensor y) => throw new NotImplementedException();
    public void ReduceRows(ReduceOp op, Tensor x, Tensor y) => throw new NotImplementedException();
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta) => throw new NotImplementedException();
}
