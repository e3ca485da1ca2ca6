using System.Runtime.InteropServices;

namespace AdvRobust.Cuda.Interop;

// Raw declarations of cuBLAS (cublas_api.h, cuBLAS 13). C names verbatim (the _v2 symbols), no logic.
// cuBLAS is column-major; the wrapper maps our row-major products onto it (C^T = B^T A^T).

#pragma warning disable CA1707, IDE1006
public enum cublasStatus_t
{
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
    CUBLAS_STATUS_LICENSE_ERROR = 16,
}

public enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 }

public enum cublasMath_t { CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2, CUBLAS_TF32_TENSOR_OP_MATH = 3 }

public enum cudaDataType_t { CUDA_R_32F = 0 }

public enum cublasComputeType_t { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77 }

public enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT = -1 }

public enum libraryPropertyType { MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2 }

public static unsafe partial class Cublas
{
    private const string Lib = NativeLibraries.Cublas;

    [LibraryImport(Lib)] public static partial cublasStatus_t cublasCreate_v2(out nint handle);
    [LibraryImport(Lib)] public static partial cublasStatus_t cublasDestroy_v2(nint handle);
    [LibraryImport(Lib)] public static partial cublasStatus_t cublasSetStream_v2(nint handle, nint streamId);
    [LibraryImport(Lib)] public static partial cublasStatus_t cublasSetMathMode(nint handle, cublasMath_t mode);
    [LibraryImport(Lib)] public static partial cublasStatus_t cublasGetProperty(libraryPropertyType type, out int value);
    [LibraryImport(Lib)] public static partial nint cublasGetStatusName(cublasStatus_t status);
    [LibraryImport(Lib)] public static partial nint cublasGetStatusString(cublasStatus_t status);

    [LibraryImport(Lib)]
    public static partial cublasStatus_t cublasSgemm_v2(nint handle, cublasOperation_t transa, cublasOperation_t transb,
        int m, int n, int k, float* alpha, ulong a, int lda, ulong b, int ldb, float* beta, ulong c, int ldc);

    [LibraryImport(Lib)]
    public static partial cublasStatus_t cublasGemmEx(nint handle, cublasOperation_t transa, cublasOperation_t transb,
        int m, int n, int k, void* alpha, ulong a, cudaDataType_t aType, int lda, ulong b, cudaDataType_t bType, int ldb,
        void* beta, ulong c, cudaDataType_t cType, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo);

    [LibraryImport(Lib)]
    public static partial cublasStatus_t cublasSgemmStridedBatched(nint handle, cublasOperation_t transa,
        cublasOperation_t transb, int m, int n, int k, float* alpha, ulong a, int lda, long strideA, ulong b, int ldb,
        long strideB, float* beta, ulong c, int ldc, long strideC, int batchCount);
}
#pragma warning restore CA1707, IDE1006
