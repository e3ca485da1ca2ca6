using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

public static partial class Ops
{
    /// <summary>C = alpha * op(A) op(B) + beta * C for row-major 2-D tensors; op transposes when asked.</summary>
    public static void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f)
    {
        var backend = SameBackend(nameof(Gemm), a, b, c);
        RequireF32(nameof(Gemm), a);
        RequireF32(nameof(Gemm), b);
        RequireF32(nameof(Gemm), c);
        RequireRank(nameof(Gemm), a, 2);
        RequireRank(nameof(Gemm), b, 2);
        RequireRank(nameof(Gemm), c, 2);
        int m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        int kb = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        Require(k == kb, nameof(Gemm),
            $"inner dimensions differ: op(A) is {m}×{k}, op(B) is {kb}×{n} (A {a.Shape}, B {b.Shape})");
        RequireShape(nameof(Gemm), c, new Shape(m, n));
        backend.Gemm(a, transA, b, transB, c, alpha, beta);
    }

    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        int m = transA ? a.Shape[1] : a.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        var c = Tensor.Empty(a.Backend, DType.Float32, m, n);
        try { Gemm(a, transA, b, transB, c); }
        catch { c.Dispose(); throw; }
        return c;
    }
}
