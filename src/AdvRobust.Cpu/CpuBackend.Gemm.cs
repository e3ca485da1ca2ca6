using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>C = alpha * op(A) op(B) + beta * C, row-major, by the blocked SGEMM in Gemm/Sgemm.cs.</summary>
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta)
    {
        int m = c.Shape[0], n = c.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        Sgemm.Run(a.F(), transA, b.F(), transB, c.F(), m, n, k, alpha, beta);
    }
}
