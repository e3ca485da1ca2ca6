// Self-tests of the cuDNN stand-in's training-mode batch norm: forward against hand values (per-channel statistics,
// running mean/variance update with the unbiased variance, saved mean and inverse std), backward against hand values
// and against central differences of the forward, alpha/beta blending, recomputed statistics, per-activation mode,
// and the documented BAD_PARAM cases.
#include <cmath>
#include <limits>
#include <string>

#include "cudnn_util.h"

namespace {

cudnnHandle_t g_h;
const float kOne = 1.0f, kZero = 0.0f;
const double kInv = 0.894427190999916;  // 1/√1.25

// x 2×2×1×2: channel 0 holds 1, 2 (image 0) and 3, 4 (image 1); channel 1 holds 10 everywhere.
std::vector<float> two_channels() { return {1, 2, 10, 10, 3, 4, 10, 10}; }

void forward_hand_values() {
    auto xd = tensor(2, 2, 1, 2), pd = tensor(1, 2, 1, 1);
    float* x = dev(two_channels());
    float* y = dev(std::vector<float>(8, std::numeric_limits<float>::quiet_NaN()));
    float *gamma = dev({2, 3}), *beta = dev({0.5f, -1});
    float *rm = dev({0, 100}), *rv = dev({1, 1}), *sm = dev({0, 0}), *si = dev({0, 0});
    CHECK_EQ(cudnnBatchNormalizationForwardTraining(g_h, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, xd, x, xd, y, pd,
                                                    gamma, beta, 0.1, rm, rv, 1e-5, sm, si), CUDNN_STATUS_SUCCESS);
    // Channel 0: mean 2.5, biased var 1.25; ε = 1e-5 shifts invstd by 4e-6 relative.
    const double inv0 = 1.0 / std::sqrt(1.25 + 1e-5);
    CHECK_NEAR(y[0], 2 * (1 - 2.5) * inv0 + 0.5, 1e-6);
    CHECK_NEAR(y[1], 2 * (2 - 2.5) * inv0 + 0.5, 1e-6);
    CHECK_NEAR(y[4], 2 * (3 - 2.5) * inv0 + 0.5, 1e-6);
    CHECK_NEAR(y[5], 2 * (4 - 2.5) * inv0 + 0.5, 1e-6);
    CHECK_NEAR(y[2], -1, 1e-6);  // channel 1 is constant: y = β
    CHECK_NEAR(rm[0], 0.25, 1e-7);                        // 0.9·0 + 0.1·2.5
    CHECK_NEAR(rv[0], 0.9 + 0.1 * 1.25 * 4 / 3, 1e-7);    // unbiased variance 5/3
    CHECK_NEAR(rm[1], 0.9 * 100 + 0.1 * 10, 1e-6);
    CHECK_NEAR(rv[1], 0.9, 1e-7);
    CHECK_NEAR(sm[0], 2.5, 1e-7);
    CHECK_NEAR(si[0], inv0, 1e-6);
    CHECK_NEAR(si[1], 1 / std::sqrt(1e-5), 1e-6);
    // alpha = 2, beta = 1 blends onto the previous y; null running and saved pointers are allowed together.
    const float two = 2.0f;
    float before = y[0];
    CHECK_EQ(cudnnBatchNormalizationForwardTraining(g_h, CUDNN_BATCHNORM_SPATIAL, &two, &kOne, xd, x, xd, y, pd, gamma,
                                                    beta, 0.1, nullptr, nullptr, 1e-5, nullptr, nullptr),
             CUDNN_STATUS_SUCCESS);
    CHECK_NEAR(y[0], 3 * before, 1e-6);
}

void backward_hand_values() {
    // Channel 0 of the case above with ε = 0, γ = 2 and dy = 1 at x = 1 only:
    // dβ = 1, dγ = Σdy·x̂ = −1.5·invstd, dx = γ·invstd·(dy − 1/4 − x̂·dγ/4) = 2·invstd·(0.3, −0.4, −0.1, 0.2).
    auto xd = tensor(2, 1, 1, 2), pd = tensor(1, 1, 1, 1);
    float *x = dev({1, 2, 3, 4}), *dy = dev({1, 0, 0, 0});
    float* dx = dev(std::vector<float>(4, std::numeric_limits<float>::quiet_NaN()));
    float *gamma = dev({2}), *dgamma = dev({10}), *dbeta = dev({20});
    float *sm = dev({2.5f}), *si = dev({(float)kInv});
    CHECK_EQ(cudnnBatchNormalizationBackward(g_h, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kOne, xd, x, xd, dy,
                                             xd, dx, pd, gamma, dgamma, dbeta, 0.0, sm, si), CUDNN_STATUS_SUCCESS);
    const double expected[] = {0.3, -0.4, -0.1, 0.2};
    for (int i = 0; i < 4; i++) CHECK_NEAR(dx[i], 2 * kInv * expected[i], 1e-6);
    CHECK_NEAR(dgamma[0], 10 - 1.5 * kInv, 1e-6);  // betaParamDiff = 1 accumulated onto 10
    CHECK_NEAR(dbeta[0], 21, 1e-6);
    // Without saved statistics they are recomputed from x and ε: the same result.
    float* dx2 = dev({0, 0, 0, 0});
    CHECK_EQ(cudnnBatchNormalizationBackward(g_h, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, &kOne, &kZero, xd, x, xd, dy,
                                             xd, dx2, pd, gamma, dgamma, dbeta, 0.0, nullptr, nullptr),
             CUDNN_STATUS_SUCCESS);
    for (int i = 0; i < 4; i++) CHECK_NEAR(dx2[i], dx[i], 1e-6);
    CHECK_NEAR(dgamma[0], -1.5 * kInv, 1e-6);
}

// Σ g·y of a forward with (x, γ, β), in double.
double loss(cudnnBatchNormMode_t mode, cudnnTensorDescriptor_t xd, cudnnTensorDescriptor_t pd, const float* x,
            const float* gamma, const float* beta, float* y, const std::vector<float>& g) {
    CHECK_EQ(cudnnBatchNormalizationForwardTraining(g_h, mode, &kOne, &kZero, xd, x, xd, y, pd, gamma, beta, 0.0,
                                                    nullptr, nullptr, 1e-3, nullptr, nullptr), CUDNN_STATUS_SUCCESS);
    double s = 0;
    for (size_t i = 0; i < g.size(); i++) s += (double)g[i] * y[i];
    return s;
}

void backward_against_finite_differences(cudnnBatchNormMode_t mode, cudnnTensorFormat_t format) {
    const int N = 3, C = 2, H = 2, W = 3;
    const bool spatial = mode != CUDNN_BATCHNORM_PER_ACTIVATION;
    auto xd = tensor(N, C, H, W, format);
    auto pd = spatial ? tensor(1, C, 1, 1) : tensor(1, C, H, W);
    const size_t count = (size_t)N * C * H * W, params = spatial ? C : (size_t)C * H * W;
    std::vector<float> xv = random_values(count, 11), g = random_values(count, 12);
    float *x = dev(xv), *dy = dev(g), *y = dev(std::vector<float>(count));
    float *gamma = dev(random_values(params, 13)), *beta = dev(random_values(params, 14));
    float *sm = dev(std::vector<float>(params)), *si = dev(std::vector<float>(params));
    CHECK_EQ(cudnnBatchNormalizationForwardTraining(g_h, mode, &kOne, &kZero, xd, x, xd, y, pd, gamma, beta, 0.0,
                                                    nullptr, nullptr, 1e-3, sm, si), CUDNN_STATUS_SUCCESS);
    float *dx = dev(std::vector<float>(count)), *dgamma = dev(std::vector<float>(params));
    float* dbeta = dev(std::vector<float>(params));
    CHECK_EQ(cudnnBatchNormalizationBackward(g_h, mode, &kOne, &kZero, &kOne, &kZero, xd, x, xd, dy, xd, dx, pd, gamma,
                                             dgamma, dbeta, 1e-3, sm, si), CUDNN_STATUS_SUCCESS);
    const float h = 1e-2f;
    auto central = [&](float* v, size_t i) {
        float keep = v[i];
        v[i] = keep + h;
        double up = loss(mode, xd, pd, x, gamma, beta, y, g);
        v[i] = keep - h;
        double down = loss(mode, xd, pd, x, gamma, beta, y, g);
        v[i] = keep;
        return (up - down) / (2.0 * (double)h);
    };
    for (size_t i = 0; i < count; i++) CHECK_NEAR(dx[i], central(x, i), 2e-3);
    for (size_t i = 0; i < params; i++) {
        CHECK_NEAR(dgamma[i], central(gamma, i), 2e-3);
        CHECK_NEAR(dbeta[i], central(beta, i), 2e-3);
    }
}

void per_activation_hand_values() {
    // x 2×1×1×2 = (1, 2) and (3, 4): statistics per position over the 2 images: means 2 and 3, variance 1.
    auto xd = tensor(2, 1, 1, 2), pd = tensor(1, 1, 1, 2);
    float *x = dev({1, 2, 3, 4}), *y = dev({0, 0, 0, 0}), *gamma = dev({1, 10}), *beta = dev({0, 5});
    float *rm = dev({0, 0}), *rv = dev({0, 0});
    CHECK_EQ(cudnnBatchNormalizationForwardTraining(g_h, CUDNN_BATCHNORM_PER_ACTIVATION, &kOne, &kZero, xd, x, xd, y, pd,
                                                    gamma, beta, 1.0, rm, rv, 0.0, nullptr, nullptr),
             CUDNN_STATUS_SUCCESS);
    CHECK_NEAR(y[0], -1, 1e-6); CHECK_NEAR(y[2], 1, 1e-6);
    CHECK_NEAR(y[1], -5, 1e-6); CHECK_NEAR(y[3], 15, 1e-6);
    CHECK_NEAR(rm[0], 2, 1e-7); CHECK_NEAR(rm[1], 3, 1e-7);
    CHECK_NEAR(rv[0], 2, 1e-7);  // factor 1: the unbiased variance 1·2/1
}

void bad_params() {
    auto xd = tensor(2, 2, 1, 2), pd = tensor(1, 2, 1, 1), wrong = tensor(1, 2, 2, 1), other = tensor(2, 2, 2, 1);
    float *x = dev(two_channels()), *y = dev(std::vector<float>(8)), *p = dev({1, 1}), *q = dev({0, 0});
    auto fwd = [&](cudnnTensorDescriptor_t yd, cudnnTensorDescriptor_t bn, void* rm, void* rv, double eps) {
        return cudnnBatchNormalizationForwardTraining(g_h, CUDNN_BATCHNORM_SPATIAL, &kOne, &kZero, xd, x, yd, y, bn, p,
                                                      q, 0.1, rm, rv, eps, nullptr, nullptr);
    };
    float *rm = dev({0, 0}), *rv = dev({1, 1});
    CHECK_EQ(fwd(xd, pd, rm, rv, 1e-5), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(fwd(xd, pd, rm, rv, -1.0), CUDNN_STATUS_BAD_PARAM);
    CHECK(last_error().find("epsilon") != std::string::npos);
    CHECK_EQ(fwd(xd, wrong, rm, rv, 1e-5), CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(fwd(other, pd, rm, rv, 1e-5), CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(fwd(xd, pd, rm, nullptr, 1e-5), CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnBatchNormalizationForwardTraining(g_h, (cudnnBatchNormMode_t)9, &kOne, &kZero, xd, x, xd, y, pd, p,
                                                    q, 0.1, nullptr, nullptr, 1e-5, nullptr, nullptr),
             CUDNN_STATUS_BAD_PARAM);
    float* short_stats = static_cast<float*>(dev_alloc(sizeof(float)));  // one float for two channels
    CHECK_EQ(fwd(xd, pd, short_stats, rv, 1e-5), CUDNN_STATUS_EXECUTION_FAILED);
    CHECK(last_error().find("resultRunningMean") != std::string::npos);
}

}  // namespace

int main() {
    CHECK_EQ(cudnnCreate(&g_h), CUDNN_STATUS_SUCCESS);
    forward_hand_values();
    backward_hand_values();
    per_activation_hand_values();
    for (auto mode : {CUDNN_BATCHNORM_SPATIAL, CUDNN_BATCHNORM_PER_ACTIVATION})
        for (auto format : {CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NHWC}) backward_against_finite_differences(mode, format);
    bad_params();
    CHECK_EQ(cudnnDestroy(g_h), CUDNN_STATUS_SUCCESS);
    return finish("cudnn_bn");
}
