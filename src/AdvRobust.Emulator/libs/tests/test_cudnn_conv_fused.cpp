// Self-tests of the stand-in's cudnnConvolutionBiasActivationForward and activation descriptors: y = act(alpha1·conv(x)
// + alpha2·z + bias) against cudnnConvolutionForward plus a hand-written epilogue under every forward algorithm, z
// aliasing y, alpha2 = 0 not reading z (NaN there), IDENTITY only with IMPLICIT_PRECOMP_GEMM, and argument errors.
#include <cmath>
#include <limits>
#include <string>

#include "cudnn_util.h"

namespace {

cudnnActivationDescriptor_t activation(cudnnActivationMode_t mode) {
    cudnnActivationDescriptor_t d = nullptr;
    CHECK_EQ(cudnnCreateActivationDescriptor(&d), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetActivationDescriptor(d, mode, CUDNN_NOT_PROPAGATE_NAN, 0.0), CUDNN_STATUS_SUCCESS);
    return d;
}

size_t workspace(cudnnHandle_t h, cudnnTensorDescriptor_t xd, cudnnFilterDescriptor_t wd,
                 cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, cudnnConvolutionFwdAlgo_t algo) {
    size_t bytes = 0;
    CHECK_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, algo, &bytes), CUDNN_STATUS_SUCCESS);
    return bytes;
}

}  // namespace

void fused_bias_activation(cudnnHandle_t h) {
    const int n = 2, c = 3, hw = 5, k = 4;
    auto xd = tensor(n, c, hw, hw), yd = tensor(n, k, hw, hw), bd = tensor(1, k, 1, 1);
    auto wd = filter(k, c, 3, 3);
    auto cd = conv(1, 1, 1, CUDNN_CROSS_CORRELATION);
    auto xv = random_values(n * c * hw * hw, 11), wv = random_values(k * c * 9, 12), bv = random_values(k, 13);
    auto zv = random_values(n * k * hw * hw, 14);
    float* x = dev(xv);
    float* w = dev(wv);
    float* bias = dev(bv);
    const size_t count = (size_t)n * k * hw * hw;
    auto relu = activation(CUDNN_ACTIVATION_RELU), identity = activation(CUDNN_ACTIVATION_IDENTITY);
    cudnnActivationMode_t mode;
    cudnnNanPropagation_t nan;
    double coef = -1;
    CHECK_EQ(cudnnGetActivationDescriptor(relu, &mode, &nan, &coef), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(mode, CUDNN_ACTIVATION_RELU); CHECK_EQ(nan, CUDNN_NOT_PROPAGATE_NAN); CHECK_EQ(coef, 0.0);
    const cudnnConvolutionFwdAlgo_t algos[] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                                               CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                               CUDNN_CONVOLUTION_FWD_ALGO_GEMM};
    const float one = 1.0f, zero = 0.0f, half = 0.5f, alpha1 = 2.0f;
    for (auto algo : algos) {
        size_t bytes = workspace(h, xd, wd, cd, yd, algo);
        void* ws = bytes ? dev_alloc(bytes) : nullptr;
        float* plain = dev(std::vector<float>(count, 0.0f));
        CHECK_EQ(cudnnConvolutionForward(h, &alpha1, xd, x, wd, w, cd, algo, ws, bytes, &zero, yd, plain),
                 CUDNN_STATUS_SUCCESS);
        // alpha2 = 0 with z = y full of NaN: z is not read.
        float* y = dev(std::vector<float>(count, std::numeric_limits<float>::quiet_NaN()));
        CHECK_EQ(cudnnConvolutionBiasActivationForward(h, &alpha1, xd, x, wd, w, cd, algo, ws, bytes, &zero, yd, y, bd,
                                                       bias, relu, yd, y), CUDNN_STATUS_SUCCESS);
        int positive = 0;
        for (size_t i = 0; i < count; i++) {
            float v = plain[i] + bv[(i / (hw * hw)) % k];
            CHECK_EQ(y[i], v > 0.0f ? v : 0.0f);
            positive += y[i] > 0.0f;
        }
        CHECK(positive > 0 && positive < (int)count);
        // alpha2 = 0.5 with z aliasing y: y = relu(alpha1·conv + 0.5·z + bias), z read before y is written.
        float* zy = dev(zv);
        CHECK_EQ(cudnnConvolutionBiasActivationForward(h, &alpha1, xd, x, wd, w, cd, algo, ws, bytes, &half, yd, zy,
                                                       bd, bias, relu, yd, zy), CUDNN_STATUS_SUCCESS);
        for (size_t i = 0; i < count; i++) {
            float v = plain[i] + half * zv[i];
            v = v + bv[(i / (hw * hw)) % k];
            CHECK_EQ(zy[i], v > 0.0f ? v : 0.0f);
        }
        // IDENTITY: only IMPLICIT_PRECOMP_GEMM.
        cudnnStatus_t s = cudnnConvolutionBiasActivationForward(h, &one, xd, x, wd, w, cd, algo, ws, bytes, &zero, yd,
                                                                y, bd, bias, identity, yd, y);
        if (algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) {
            CHECK_EQ(s, CUDNN_STATUS_SUCCESS);
            for (size_t i = 0; i < count; i++) CHECK_NEAR(y[i], plain[i] / 2 + bv[(i / (hw * hw)) % k], 1e-6);
        } else {
            CHECK_EQ(s, CUDNN_STATUS_NOT_SUPPORTED);
            CHECK(last_error().find("IDENTITY") != std::string::npos);
        }
        if (ws) dev_free(ws);
    }
    // Errors: a bias of the wrong shape, an unsupported mode, a freed activation, a short workspace.
    auto algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
    size_t bytes = workspace(h, xd, wd, cd, yd, algo);
    void* ws = dev_alloc(bytes);
    float* y = dev(std::vector<float>(count, 0.0f));
    auto wrong_bias = tensor(1, k + 1, 1, 1);
    CHECK_EQ(cudnnConvolutionBiasActivationForward(h, &one, xd, x, wd, w, cd, algo, ws, bytes, &zero, yd, y, wrong_bias,
                                                   bias, relu, yd, y), CUDNN_STATUS_BAD_PARAM);
    CHECK(last_error().find("biasDesc") != std::string::npos);
    auto tanh_act = activation(CUDNN_ACTIVATION_TANH);
    CHECK_EQ(cudnnConvolutionBiasActivationForward(h, &one, xd, x, wd, w, cd, algo, ws, bytes, &zero, yd, y, bd, bias,
                                                   tanh_act, yd, y), CUDNN_STATUS_NOT_SUPPORTED);
    CHECK_EQ(cudnnConvolutionBiasActivationForward(h, &one, xd, x, wd, w, cd, algo, ws, bytes - 4, &zero, yd, y, bd,
                                                   bias, relu, yd, y), CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT);
    CHECK_EQ(cudnnSetActivationDescriptor(relu, (cudnnActivationMode_t)42, CUDNN_NOT_PROPAGATE_NAN, 0.0),
             CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnDestroyActivationDescriptor(tanh_act), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnConvolutionBiasActivationForward(h, &one, xd, x, wd, w, cd, algo, ws, bytes, &zero, yd, y, bd, bias,
                                                   tanh_act, yd, y), CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnDestroyActivationDescriptor(tanh_act), CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnDestroyActivationDescriptor(relu), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnDestroyActivationDescriptor(identity), CUDNN_STATUS_SUCCESS);
    dev_free(ws);
}
