// libadvrobust-emu-cublas.so: the cuBLAS v2 calls the engine binds, executed on the host, written from the cuBLAS
// documentation (cublas_api.h 13.1), not from the engine's CPU GEMM.
//
// Math: column-major C (m×n) = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ (CUBLAS_OP_C is Xᵀ for real data);
// A is lda×(k or m), B is ldb×(n or k), element (i, j) of a matrix at X[i + j·ld]. Strided batched: matrix b of each
// operand starts at X + b·strideX. Products accumulate in double and round once to float. beta = 0 never reads C
// (it may hold NaN); alpha = 0 reads neither A nor B. TF32 (math mode CUBLAS_TF32_TENSOR_OP_MATH with a non-pedantic
// compute type, or compute type CUBLAS_COMPUTE_32F_FAST_TF32) rounds every A and B element to TF32 first.
// Checks (CUBLAS_STATUS_INVALID_VALUE as documented): m, n, k >= 0, transa/transb in {N, T, C},
// lda >= max(1, rows of A as stored), ldb likewise, ldc >= max(1, m), alpha and beta not null, batchCount >= 0.
// Emulator checks: a handle that is not live gives NOT_INITIALIZED; every matrix's byte range must lie in one live
// device allocation, else CUBLAS_STATUS_EXECUTION_FAILED with the reason on stderr.
#include <cstdio>
#include <mutex>
#include <set>
#include <vector>

#include "cublas_types.h"
#include "emu_lib.h"

struct cublasContext {
    cudaStream_t stream;
    cublasMath_t math;
};

namespace {

std::mutex g_handles_gate;
std::set<cublasHandle_t> g_handles;

bool live(cublasHandle_t h) {
    std::lock_guard<std::mutex> lock(g_handles_gate);
    return h != nullptr && g_handles.count(h) != 0;
}

bool valid_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

int at_least_one(int v) { return v < 1 ? 1 : v; }

// Bytes spanned by a rows×cols column-major matrix with leading dimension ld.
size_t span(int rows, int cols, int ld) {
    if (rows == 0 || cols == 0) return 0;
    return ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * sizeof(float);
}

struct Gemm {
    const char* function;
    cublasOperation_t ta, tb;
    int m, n, k;
    const float *a, *b;
    float* c;
    int lda, ldb, ldc;
    long long sa, sb, sc;
    int batch;
    bool tf32;
};

cublasStatus_t fail_range(const char* message) {
    std::fprintf(stderr, "advrobust-emu-cublas: %s\n", message);
    emu::set_last_error("%s", message);
    return CUBLAS_STATUS_EXECUTION_FAILED;
}

cublasStatus_t run(const Gemm& g, float alpha, float beta) {
    const bool read_ab = g.k > 0 && alpha != 0.0f;
    const int a_rows = g.ta == CUBLAS_OP_N ? g.m : g.k, a_cols = g.ta == CUBLAS_OP_N ? g.k : g.m;
    const int b_rows = g.tb == CUBLAS_OP_N ? g.k : g.n, b_cols = g.tb == CUBLAS_OP_N ? g.n : g.k;
    char message[768];
    for (int i = 0; i < g.batch; i++) {
        const float* a = g.a + i * g.sa;
        const float* b = g.b + i * g.sb;
        float* c = g.c + i * g.sc;
        if ((read_ab && (emu::check_range(a, span(a_rows, a_cols, g.lda), g.function, "A", message, sizeof message) ||
                         emu::check_range(b, span(b_rows, b_cols, g.ldb), g.function, "B", message, sizeof message))) ||
            emu::check_range(c, span(g.m, g.n, g.ldc), g.function, "C", message, sizeof message))
            return fail_range(message);
    }
    std::vector<float> pa(read_ab ? (size_t)g.m * g.k : 0), pb(read_ab ? (size_t)g.k * g.n : 0);
    std::vector<double> acc((size_t)g.m);
    for (int batch = 0; batch < g.batch; batch++) {
        const float* a = g.a + batch * g.sa;
        const float* b = g.b + batch * g.sb;
        float* c = g.c + batch * g.sc;
        if (read_ab) {
            // pa[l·m + i] = op(A)(i, l); pb[j·k + l] = op(B)(l, j); TF32-rounded when asked.
            for (int l = 0; l < g.k; l++)
                for (int i = 0; i < g.m; i++) {
                    float v = g.ta == CUBLAS_OP_N ? a[i + (size_t)l * g.lda] : a[l + (size_t)i * g.lda];
                    pa[(size_t)l * g.m + i] = g.tf32 ? emu::round_tf32(v) : v;
                }
            for (int j = 0; j < g.n; j++)
                for (int l = 0; l < g.k; l++) {
                    float v = g.tb == CUBLAS_OP_N ? b[l + (size_t)j * g.ldb] : b[j + (size_t)l * g.ldb];
                    pb[(size_t)j * g.k + l] = g.tf32 ? emu::round_tf32(v) : v;
                }
        }
        for (int j = 0; j < g.n; j++) {
            for (int i = 0; i < g.m; i++) acc[i] = 0.0;
            if (read_ab)
                for (int l = 0; l < g.k; l++) {
                    const double bv = pb[(size_t)j * g.k + l];
                    const float* col = &pa[(size_t)l * g.m];
                    for (int i = 0; i < g.m; i++) acc[i] += (double)col[i] * bv;
                }
            float* cj = c + (size_t)j * g.ldc;
            for (int i = 0; i < g.m; i++)
                cj[i] = beta == 0.0f ? (float)(alpha * acc[i]) : (float)(alpha * acc[i] + (double)beta * cj[i]);
        }
        emu::mark_written(c, span(g.m, g.n, g.ldc));
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t gemm(Gemm g, cublasHandle_t handle, const float* alpha, const float* beta) {
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!valid_op(g.ta) || !valid_op(g.tb) || g.m < 0 || g.n < 0 || g.k < 0 || g.batch < 0 ||
        g.lda < at_least_one(g.ta == CUBLAS_OP_N ? g.m : g.k) || g.ldb < at_least_one(g.tb == CUBLAS_OP_N ? g.k : g.n) ||
        g.ldc < at_least_one(g.m) || alpha == nullptr || beta == nullptr)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (g.m == 0 || g.n == 0 || g.batch == 0) return CUBLAS_STATUS_SUCCESS;
    // alpha and beta are host scalars (pointer mode host): read now, as cuBLAS does when it enqueues the GEMM.
    const float a = *alpha, b = *beta;
    int status = emu::submit(handle->stream, "cublas", g.function, [g, a, b] { return (int)run(g, a, b); });
    if (status == emu::CaptureInvalidated) return fail_range("the stream's graph capture was invalidated");
    return (cublasStatus_t)status;
}

// TF32 under a math mode: CUBLAS_TF32_TENSOR_OP_MATH (the low bits; DISALLOW_REDUCED_PRECISION is a flag above them).
bool math_allows_tf32(cublasHandle_t handle) { return (handle->math & 0xf) == CUBLAS_TF32_TENSOR_OP_MATH; }

}  // namespace

EMU_EXPORT const char* advrobust_emulator_name(void) {
    return "AdvRobust CUDA emulator: cuBLAS 13.1.0 stand-in (libadvrobust-emu-cublas.so, host execution)";
}

EMU_EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
    emu::count_call("cublas", "cublasCreate_v2");
    if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    auto* h = new cublasContext{nullptr, CUBLAS_DEFAULT_MATH};
    std::lock_guard<std::mutex> lock(g_handles_gate);
    g_handles.insert(h);
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
    emu::count_call("cublas", "cublasDestroy_v2");
    std::lock_guard<std::mutex> lock(g_handles_gate);
    if (handle == nullptr || g_handles.erase(handle) == 0) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
    emu::count_call("cublas", "cublasSetStream_v2");
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = streamId;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    emu::count_call("cublas", "cublasSetMathMode");
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    int base = mode & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    if (base != CUBLAS_DEFAULT_MATH && base != CUBLAS_TENSOR_OP_MATH && base != CUBLAS_PEDANTIC_MATH &&
        base != CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
    if (value == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    switch (type) {
        case MAJOR_VERSION: *value = CUBLAS_EMU_VER_MAJOR; return CUBLAS_STATUS_SUCCESS;
        case MINOR_VERSION: *value = CUBLAS_EMU_VER_MINOR; return CUBLAS_STATUS_SUCCESS;
        case PATCH_LEVEL: *value = CUBLAS_EMU_VER_PATCH; return CUBLAS_STATUS_SUCCESS;
        default: return CUBLAS_STATUS_INVALID_VALUE;
    }
}

EMU_EXPORT const char* cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

EMU_EXPORT const char* cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "success";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
        case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
        case CUBLAS_STATUS_INVALID_VALUE: return "an unsupported value or parameter was passed to the function";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "the function requires a feature absent from the device architecture";
        case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "the GPU program failed to execute (emulator: a matrix outside device memory, see stderr)";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal cuBLAS operation failed";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
        case CUBLAS_STATUS_LICENSE_ERROR: return "an error was detected when checking the current licensing";
    }
    return "unknown status";
}

EMU_EXPORT cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const float* alpha, const float* A, int lda,
                                         const float* B, int ldb, const float* beta, float* C, int ldc) {
    emu::count_call("cublas", "cublasSgemm_v2");
    bool tf32 = live(handle) && math_allows_tf32(handle);
    return gemm({"cublasSgemm_v2", transa, transb, m, n, k, A, B, C, lda, ldb, ldc, 0, 0, 0, 1, tf32}, handle, alpha,
                beta);
}

EMU_EXPORT cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                                    cublasOperation_t transb, int m, int n, int k, const float* alpha,
                                                    const float* A, int lda, long long int strideA, const float* B,
                                                    int ldb, long long int strideB, const float* beta, float* C,
                                                    int ldc, long long int strideC, int batchCount) {
    emu::count_call("cublas", "cublasSgemmStridedBatched");
    bool tf32 = live(handle) && math_allows_tf32(handle);
    return gemm({"cublasSgemmStridedBatched", transa, transb, m, n, k, A, B, C, lda, ldb, ldc, strideA, strideB,
                 strideC, batchCount, tf32},
                handle, alpha, beta);
}

// Float data only (A, B, C CUDA_R_32F; alpha and beta float): compute types 32F, 32F_PEDANTIC and 32F_FAST_TF32 run;
// 32F_FAST_16F/16BF, other data types and other compute types are CUBLAS_STATUS_NOT_SUPPORTED here.
EMU_EXPORT cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                       int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                       int lda, const void* B, cudaDataType Btype, int ldb, const void* beta, void* C,
                                       cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                                       cublasGemmAlgo_t algo) {
    emu::count_call("cublas", "cublasGemmEx");
    if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!((algo >= CUBLAS_GEMM_DEFAULT && algo <= CUBLAS_GEMM_ALGO23) ||
          (algo >= CUBLAS_GEMM_DFALT_TENSOR_OP && algo <= CUBLAS_GEMM_ALGO15_TENSOR_OP)))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (Atype != CUDA_R_32F || Btype != CUDA_R_32F || Ctype != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    bool tf32;
    switch (computeType) {
        case CUBLAS_COMPUTE_32F: tf32 = math_allows_tf32(handle); break;
        case CUBLAS_COMPUTE_32F_PEDANTIC: tf32 = false; break;
        case CUBLAS_COMPUTE_32F_FAST_TF32: tf32 = true; break;
        default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return gemm({"cublasGemmEx", transa, transb, m, n, k, static_cast<const float*>(A), static_cast<const float*>(B),
                 static_cast<float*>(C), lda, ldb, ldc, 0, 0, 0, 1, tf32},
                handle, static_cast<const float*>(alpha), static_cast<const float*>(beta));
}
