// Self-tests of libadvrobust-emu-cublas.so on hand-computed cases: column-major layout, transposes, leading
// dimensions, alpha/beta (beta = 0 ignores NaN in C), strided batch, TF32 rounding, argument checks, range checks.
#include <cstring>
#include <limits>
#include <vector>

#include "api.h"
#include "check.h"

namespace {

cublasHandle_t g_h;
const float kOne = 1.0f, kZero = 0.0f;

float* dev(const std::vector<float>& v) {
    auto* p = static_cast<float*>(dev_alloc(v.size() * sizeof(float)));
    std::memcpy(p, v.data(), v.size() * sizeof(float));
    return p;
}

// C (2×2) = A (2×3) · B (3×2), all column-major with padded leading dimensions.
void hand_product() {
    // A = [1 2 3; 4 5 6] stored with lda = 3 (one unused row); B = [7 8; 9 10; 11 12] with ldb = 4.
    float* a = dev({1, 4, -99, 2, 5, -99, 3, 6, -99});
    float* b = dev({7, 9, 11, -99, 8, 10, 12, -99});
    float* c = dev({-1, -1, -1, -1, -1, -1});  // ldc = 3
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &kOne, a, 3, b, 4, &kZero, c, 3),
             CUBLAS_STATUS_SUCCESS);
    // [1 2 3]·[7 9 11] = 58, ·[8 10 12] = 64; [4 5 6]·… = 139, 154.
    CHECK_EQ(c[0], 58); CHECK_EQ(c[1], 139); CHECK_EQ(c[3], 64); CHECK_EQ(c[4], 154);
    CHECK_EQ(c[2], -1);  // the padding row of C is untouched
    // Transposes: Aᵀ stored as a 3×2 matrix (lda 3), Bᵀ as 2×3 (ldb 2): the same product.
    float* at = dev({1, 2, 3, 4, 5, 6});
    float* bt = dev({7, 8, 9, 10, 11, 12});
    float* c2 = dev({0, 0, 0, 0});
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_T, CUBLAS_OP_T, 2, 2, 3, &kOne, at, 3, bt, 2, &kZero, c2, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(c2[0], 58); CHECK_EQ(c2[1], 139); CHECK_EQ(c2[2], 64); CHECK_EQ(c2[3], 154);
    // Mixed: op(A) = A (lda 3 padded), op(B) = Bᵀ; then alpha = 2, beta = 0.5 over C = 10.
    float* c3 = dev({10, 10, 10, 10});
    const float two = 2.0f, half = 0.5f;
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_T, 2, 2, 3, &two, a, 3, bt, 2, &half, c3, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(c3[0], 121); CHECK_EQ(c3[1], 283); CHECK_EQ(c3[2], 133); CHECK_EQ(c3[3], 313);
    // CUBLAS_OP_C is the transpose for real data.
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_C, CUBLAS_OP_C, 2, 2, 3, &kOne, at, 3, bt, 2, &kZero, c2, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(c2[3], 154);
}

void beta_zero_ignores_nan_and_alpha_zero_skips_a() {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    float* a = dev({1, 2});
    float* b = dev({3});
    float* c = dev({nan, nan});
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kOne, a, 2, b, 1, &kZero, c, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(c[0], 3); CHECK_EQ(c[1], 6);
    float* an = dev({nan, nan});
    const float three = 3.0f;
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kZero, an, 2, b, 1, &three, c, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(c[0], 9); CHECK_EQ(c[1], 18);
    // k = 0: C = beta·C; beta = 0 writes zeros over NaN.
    float* cn = dev({nan, nan});
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 0, &kOne, a, 2, b, 1, &kZero, cn, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(cn[0], 0); CHECK_EQ(cn[1], 0);
}

void strided_batched() {
    // Two 1×2 · 2×1 products; B is shared (stride 0).
    float* a = dev({1, 2, 3, 4});
    float* b = dev({10, 100});
    float* c = dev({-1, -7, -1});
    CHECK_EQ(cublasSgemmStridedBatched(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 2, &kOne, a, 1, 2, b, 2, 0, &kZero, c, 1,
                                       2, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(c[0], 210); CHECK_EQ(c[1], -7); CHECK_EQ(c[2], 430);
    CHECK_EQ(cublasSgemmStridedBatched(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 2, &kOne, a, 1, 2, b, 2, 0, &kZero, c, 1,
                                       2, -1),
             CUBLAS_STATUS_INVALID_VALUE);
}

void tf32_rounding() {
    // 1 + 2⁻¹² rounds to 1 in TF32 (10 mantissa bits); 1 + 2⁻¹¹ is a tie and rounds away from zero to 1 + 2⁻¹⁰.
    float* a = dev({1.0f + 0x1p-12f, 1.0f + 0x1p-11f});
    float* b = dev({1.0f});
    float* c = dev({0, 0});
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kOne, a, 2, b, 1, &kZero, c, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK(c[0] == 1.0f + 0x1p-12f && c[1] == 1.0f + 0x1p-11f);
    CHECK_EQ(cublasGemmEx(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kOne, a, CUDA_R_32F, 2, b, CUDA_R_32F, 1, &kZero, c,
                          CUDA_R_32F, 2, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_SUCCESS);
    CHECK(c[0] == 1.0f && c[1] == 1.0f + 0x1p-10f);
    CHECK_EQ(cublasSetMathMode(g_h, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kOne, a, 2, b, 1, &kZero, c, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK(c[0] == 1.0f && c[1] == 1.0f + 0x1p-10f);
    CHECK_EQ(cublasGemmEx(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kOne, a, CUDA_R_32F, 2, b, CUDA_R_32F, 1, &kZero, c,
                          CUDA_R_32F, 2, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_SUCCESS);
    CHECK(c[0] == 1.0f + 0x1p-12f);
    CHECK_EQ(cublasSetMathMode(g_h, CUBLAS_DEFAULT_MATH), CUBLAS_STATUS_SUCCESS);
}

void argument_checks() {
    float* a = dev({1, 2, 3, 4, 5, 6});
    float* c = dev({0, 0, 0, 0, 0, 0});
    auto gemm = [&](cublasOperation_t ta, int m, int n, int k, int lda, int ldb, int ldc, const float* alpha) {
        return cublasSgemm_v2(g_h, ta, CUBLAS_OP_N, m, n, k, alpha, a, lda, a, ldb, &kZero, c, ldc);
    };
    CHECK_EQ(gemm(CUBLAS_OP_N, 2, 1, 1, 2, 1, 2, &kOne), CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(gemm(CUBLAS_OP_N, 2, 1, 1, 1, 1, 2, &kOne), CUBLAS_STATUS_INVALID_VALUE);  // lda < m
    CHECK_EQ(gemm(CUBLAS_OP_T, 2, 1, 3, 2, 3, 2, &kOne), CUBLAS_STATUS_INVALID_VALUE);  // lda < k when transposed
    CHECK_EQ(gemm(CUBLAS_OP_N, 2, 1, 3, 2, 2, 2, &kOne), CUBLAS_STATUS_INVALID_VALUE);  // ldb < k
    CHECK_EQ(gemm(CUBLAS_OP_N, 2, 1, 1, 2, 1, 1, &kOne), CUBLAS_STATUS_INVALID_VALUE);  // ldc < m
    CHECK_EQ(gemm(CUBLAS_OP_N, -1, 1, 1, 2, 1, 2, &kOne), CUBLAS_STATUS_INVALID_VALUE);
    CHECK_EQ(gemm(CUBLAS_OP_CONJG, 2, 1, 1, 2, 1, 2, &kOne), CUBLAS_STATUS_INVALID_VALUE);
    CHECK_EQ(gemm(CUBLAS_OP_N, 2, 1, 1, 2, 1, 2, nullptr), CUBLAS_STATUS_INVALID_VALUE);
    CHECK_EQ(gemm(CUBLAS_OP_N, 0, 1, 1, 1, 1, 1, &kOne), CUBLAS_STATUS_SUCCESS);  // empty: nothing to do
    CHECK_EQ(cublasGemmEx(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kOne, a, CUDA_R_16F, 2, a, CUDA_R_32F, 1, &kZero, c,
                          CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_NOT_SUPPORTED);
    CHECK_EQ(cublasGemmEx(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kOne, a, CUDA_R_32F, 2, a, CUDA_R_32F, 1, &kZero, c,
                          CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, (cublasGemmAlgo_t)50),
             CUBLAS_STATUS_INVALID_VALUE);
    CHECK_EQ(cublasSetMathMode(g_h, (cublasMath_t)7), CUBLAS_STATUS_INVALID_VALUE);
    cublasHandle_t gone;
    CHECK_EQ(cublasCreate_v2(&gone), CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(cublasDestroy_v2(gone), CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(cublasSgemm_v2(gone, CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 1, &kOne, a, 2, a, 1, &kZero, c, 2),
             CUBLAS_STATUS_NOT_INITIALIZED);
    CHECK_EQ(cublasDestroy_v2(gone), CUBLAS_STATUS_NOT_INITIALIZED);
}

void range_checks_and_counters() {
    // A 2×2 C with ldc 4 spans 6 floats; a 4-float allocation is too small.
    float* a = dev({1, 2, 3, 4});
    float* small = static_cast<float*>(dev_alloc(4 * sizeof(float)));
    long long before = call_count("cublasSgemm_v2");
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &kOne, a, 2, a, 2, &kZero, small, 4),
             CUBLAS_STATUS_EXECUTION_FAILED);
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &kOne, a, 4, a, 2, &kZero, small, 2),
             CUBLAS_STATUS_EXECUTION_FAILED);  // A read with lda 4 runs past its allocation
    long long marked = marked_bytes();
    CHECK_EQ(cublasSgemm_v2(g_h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &kOne, a, 2, a, 2, &kZero, small, 2),
             CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(call_count("cublasSgemm_v2") - before, 3);
    CHECK_EQ(marked_bytes() - marked, 16);
    int major = 0;
    CHECK_EQ(cublasGetProperty(MAJOR_VERSION, &major), CUBLAS_STATUS_SUCCESS);
    CHECK_EQ(major, 13);
    CHECK(std::strcmp(cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE") == 0);
    CHECK(std::strstr(advrobust_emulator_name(), "emulator") != nullptr);
}

}  // namespace

int main() {
    CHECK_EQ(cublasCreate_v2(&g_h), CUBLAS_STATUS_SUCCESS);
    hand_product();
    beta_zero_ignores_nan_and_alpha_zero_skips_a();
    strided_batched();
    tf32_rounding();
    argument_checks();
    range_checks_and_counters();
    CHECK_EQ(cublasDestroy_v2(g_h), CUBLAS_STATUS_SUCCESS);
    return finish("cublas");
}
