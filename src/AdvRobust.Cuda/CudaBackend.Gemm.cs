using AdvRobust.Core.Tensors;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

public sealed partial class CudaBackend
{
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta) =>
        GemmRowMajor(P(a), transA, a.Shape[1], P(b), transB, b.Shape[1], P(c), c.Shape[0], c.Shape[1],
            transA ? a.Shape[0] : a.Shape[1], alpha, beta);

    /// <summary>
    /// Row-major C (m×n) = alpha·op(A)·op(B) + beta·C on cuBLAS, which is column-major. A row-major matrix read
    /// column-major is its transpose, so we ask cuBLAS for Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands, keep the transpose
    /// flags, and pass each matrix's row length as its leading dimension. TF32 tensor cores only when allowed.
    /// </summary>
    internal unsafe void GemmRowMajor(ulong a, bool transA, int aRowLength, ulong b, bool transB, int bRowLength,
        ulong c, int m, int n, int k, float alpha, float beta)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            // An empty product: C = beta·C, and beta = 0 overwrites C (even NaN) as cuBLAS does.
            if (beta == 0f) Kernels.Fill(c, 0f, (long)m * n);
            else Kernels.Axpby(c, c, 0f, beta, (long)m * n);
            return;
        }
        Context.MakeCurrent();
        var handle = Context.Cublas.DangerousGetHandle();
        var opA = transA ? cublasOperation_t.CUBLAS_OP_T : cublasOperation_t.CUBLAS_OP_N;
        var opB = transB ? cublasOperation_t.CUBLAS_OP_T : cublasOperation_t.CUBLAS_OP_N;
        if (Context.AllowTf32)
        {
            CublasException.Check(Cublas.cublasGemmEx(handle, opB, opA, n, m, k, &alpha,
                b, cudaDataType_t.CUDA_R_32F, bRowLength, a, cudaDataType_t.CUDA_R_32F, aRowLength, &beta,
                c, cudaDataType_t.CUDA_R_32F, n, cublasComputeType_t.CUBLAS_COMPUTE_32F_FAST_TF32,
                cublasGemmAlgo_t.CUBLAS_GEMM_DEFAULT));
        }
        else
        {
            CublasException.Check(Cublas.cublasSgemm_v2(handle, opB, opA, n, m, k, &alpha, b, bRowLength, a, aRowLength,
                &beta, c, n));
        }
    }
}
