// Self-tests of the cuDNN stand-in's convolution: output dimensions, hand-computed forward results for padding,
// stride, dilation, groups, NHWC and convolution vs cross-correlation under every forward algorithm; backward data and
// backward filter against central differences of the forward; alpha/beta; TF32; workspace queries and refusal; Find;
// argument errors and device-range checks.
#include <cmath>
#include <limits>
#include <string>

#include "cudnn_util.h"

namespace {

cudnnHandle_t g_h;
const float kOne = 1.0f, kZero = 0.0f;
const cudnnConvolutionFwdAlgo_t kFwd[] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                                          CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                          CUDNN_CONVOLUTION_FWD_ALGO_GEMM};

// Runs the forward with algorithm `algo` and a workspace of exactly the queried size.
cudnnStatus_t forward(cudnnTensorDescriptor_t xd, const float* x, cudnnFilterDescriptor_t wd, const float* w,
                      cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, float* y,
                      cudnnConvolutionFwdAlgo_t algo, float alpha = 1.0f, float beta = 0.0f) {
    size_t bytes = 0;
    CHECK_EQ(cudnnGetConvolutionForwardWorkspaceSize(g_h, xd, wd, cd, yd, algo, &bytes), CUDNN_STATUS_SUCCESS);
    void* ws = bytes ? dev_alloc(bytes) : nullptr;
    cudnnStatus_t s = cudnnConvolutionForward(g_h, &alpha, xd, x, wd, w, cd, algo, ws, bytes, &beta, yd, y);
    if (ws) dev_free(ws);
    return s;
}

void output_dims() {
    auto x = tensor(2, 4, 7, 9);
    auto w = filter(6, 2, 3, 2);
    int n, c, h, wd;
    auto cd = conv(1, 2, 1, CUDNN_CROSS_CORRELATION, 2);
    CHECK_EQ(cudnnGetConvolution2dForwardOutputDim(cd, x, w, &n, &c, &h, &wd), CUDNN_STATUS_SUCCESS);
    // P = (7 + 2 − 3)/2 + 1 = 4, Q = (9 + 2 − 2)/2 + 1 = 5.
    CHECK_EQ(n, 2); CHECK_EQ(c, 6); CHECK_EQ(h, 4); CHECK_EQ(wd, 5);
    auto dil = conv(0, 1, 3, CUDNN_CONVOLUTION, 2);  // effective filter 7×4: P = 1, Q = 6
    CHECK_EQ(cudnnGetConvolution2dForwardOutputDim(dil, x, w, &n, &c, &h, &wd), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(h, 1); CHECK_EQ(wd, 6);
    auto ungrouped = conv(0, 1, 1, CUDNN_CROSS_CORRELATION, 1);  // 4 channels vs 2 per filter
    CHECK_EQ(cudnnGetConvolution2dForwardOutputDim(ungrouped, x, w, &n, &c, &h, &wd), CUDNN_STATUS_BAD_PARAM);
    CHECK(last_error().find("channels") != std::string::npos);
    auto big = conv(0, 1, 4, CUDNN_CROSS_CORRELATION, 2);  // effective 9 rows > 7
    CHECK_EQ(cudnnGetConvolution2dForwardOutputDim(big, x, w, &n, &c, &h, &wd), CUDNN_STATUS_BAD_PARAM);
    auto unset = static_cast<cudnnConvolutionDescriptor_t>(nullptr);
    CHECK_EQ(cudnnCreateConvolutionDescriptor(&unset), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnGetConvolution2dForwardOutputDim(unset, x, w, &n, &c, &h, &wd), CUDNN_STATUS_BAD_PARAM);
}

// x = 1..9 (3×3), w = [1 2; 3 4]: every forward algorithm, both modes, padding/stride and dilation, NCHW and NHWC.
void hand_forward() {
    float* x = dev({1, 2, 3, 4, 5, 6, 7, 8, 9});
    float* w = dev({1, 2, 3, 4});
    struct Case { int pad, stride, dil; cudnnConvolutionMode_t mode; int p; std::vector<float> y; };
    const Case cases[] = {
        {0, 1, 1, CUDNN_CROSS_CORRELATION, 2, {37, 47, 67, 77}},
        {0, 1, 1, CUDNN_CONVOLUTION, 2, {23, 33, 53, 63}},
        {1, 2, 1, CUDNN_CROSS_CORRELATION, 2, {4, 18, 36, 77}},
        {0, 1, 2, CUDNN_CROSS_CORRELATION, 1, {64}},
        {0, 1, 2, CUDNN_CONVOLUTION, 1, {1 * 4 + 3 * 3 + 7 * 2 + 9 * 1}},
    };
    for (auto format : {CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NHWC})  // one channel: both layouts hold the same bytes
        for (const Case& k : cases)
            for (auto algo : kFwd) {
                auto xd = tensor(1, 1, 3, 3, format);
                auto wd = filter(1, 1, 2, 2, format);
                auto cd = conv(k.pad, k.stride, k.dil, k.mode);
                auto yd = tensor(1, 1, k.p, k.p, format);
                float* y = dev(std::vector<float>(k.y.size(), -1.0f));
                CHECK_EQ(forward(xd, x, wd, w, cd, yd, y, algo), CUDNN_STATUS_SUCCESS);
                for (size_t i = 0; i < k.y.size(); i++) CHECK_EQ(y[i], k.y[i]);
            }
}

// Two channels in NHWC (interleaved) and two groups: output k reads only its group's channel.
void groups_and_nhwc() {
    // x 1×2×2×2 NHWC: channel 0 = 1, 2, 3, 4 and channel 1 = 10, 20, 30, 40, interleaved per pixel.
    float* x = dev({1, 10, 2, 20, 3, 30, 4, 40});
    float* w = dev({1, 1, 1, 1, 1, 0, 0, 0});  // k0 = all ones, k1 = [1 0; 0 0] (one channel each)
    for (auto algo : kFwd) {
        auto xd = tensor(1, 2, 2, 2, CUDNN_TENSOR_NHWC);
        auto wd = filter(2, 1, 2, 2);
        auto cd = conv(0, 1, 1, CUDNN_CROSS_CORRELATION, 2);
        auto yd = tensor(1, 2, 1, 1);
        float* y = dev({0, 0});
        CHECK_EQ(forward(xd, x, wd, w, cd, yd, y, algo), CUDNN_STATUS_SUCCESS);
        CHECK_EQ(y[0], 10);  // 1 + 2 + 3 + 4 from channel 0
        CHECK_EQ(y[1], 10);  // channel 1's top-left
    }
}

void alpha_beta_and_tf32() {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    float* x = dev({1.0f + 0x1p-12f});
    float* w = dev({1.0f});
    auto xd = tensor(1, 1, 1, 1);
    auto wd = filter(1, 1, 1, 1);
    auto yd = tensor(1, 1, 1, 1);
    float* y = dev({nan});
    auto fma = conv(0, 1, 1, CUDNN_CROSS_CORRELATION, 1, CUDNN_FMA_MATH);
    CHECK_EQ(forward(xd, x, wd, w, fma, yd, y, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM), CUDNN_STATUS_SUCCESS);
    CHECK(y[0] == 1.0f + 0x1p-12f);  // beta = 0 ignored the NaN; FMA math keeps full precision
    CHECK_EQ(forward(xd, x, wd, w, fma, yd, y, CUDNN_CONVOLUTION_FWD_ALGO_GEMM, 2.0f, 0.5f), CUDNN_STATUS_SUCCESS);
    CHECK(y[0] == 2.5f * (1.0f + 0x1p-12f));
    auto tensor_op = conv(0, 1, 1, CUDNN_CROSS_CORRELATION, 1, CUDNN_DEFAULT_MATH);
    CHECK_EQ(forward(xd, x, wd, w, tensor_op, yd, y, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM),
             CUDNN_STATUS_SUCCESS);
    CHECK(y[0] == 1.0f);  // the tensor-op algorithm rounded x to TF32
    CHECK_EQ(forward(xd, x, wd, w, tensor_op, yd, y, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM), CUDNN_STATUS_SUCCESS);
    CHECK(y[0] == 1.0f + 0x1p-12f);  // not a tensor-op algorithm
}

// Σ g·y over a forward of (x, w), in double.
double loss(cudnnTensorDescriptor_t xd, const float* x, cudnnFilterDescriptor_t wd, const float* w,
            cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, float* y, const std::vector<float>& g) {
    CHECK_EQ(forward(xd, x, wd, w, cd, yd, y, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM), CUDNN_STATUS_SUCCESS);
    double sum = 0;
    for (size_t i = 0; i < g.size(); i++) sum += (double)g[i] * y[i];
    return sum;
}

void backward_against_finite_differences(cudnnConvolutionMode_t mode, cudnnTensorFormat_t format) {
    const int N = 2, C = 4, H = 5, W = 6, K = 4, G = 2, R = 3, S = 2;
    auto xd = tensor(N, C, H, W, format);
    auto wd = filter(K, C / G, R, S, format);
    cudnnConvolutionDescriptor_t cd = nullptr;
    CHECK_EQ(cudnnCreateConvolutionDescriptor(&cd), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetConvolution2dDescriptor(cd, 1, 2, 2, 1, 2, 1, mode, CUDNN_DATA_FLOAT), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetConvolutionGroupCount(cd, G), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH), CUDNN_STATUS_SUCCESS);
    int n, k, p, q;
    CHECK_EQ(cudnnGetConvolution2dForwardOutputDim(cd, xd, wd, &n, &k, &p, &q), CUDNN_STATUS_SUCCESS);
    auto yd = tensor(n, k, p, q, format);
    std::vector<float> xv = random_values((size_t)N * C * H * W, 1), wv = random_values((size_t)K * C / G * R * S, 2);
    std::vector<float> g = random_values((size_t)n * k * p * q, 3);
    float *x = dev(xv), *w = dev(wv), *y = dev(g), *dy = dev(g);
    const float h = 0.25f;
    std::vector<double> dx_fd(xv.size()), dw_fd(wv.size());
    for (size_t i = 0; i < xv.size(); i++) {
        float keep = x[i];
        x[i] = keep + h;
        double up = loss(xd, x, wd, w, cd, yd, y, g);
        x[i] = keep - h;
        dx_fd[i] = (up - loss(xd, x, wd, w, cd, yd, y, g)) / (2 * h);
        x[i] = keep;
    }
    for (size_t i = 0; i < wv.size(); i++) {
        float keep = w[i];
        w[i] = keep + h;
        double up = loss(xd, x, wd, w, cd, yd, y, g);
        w[i] = keep - h;
        dw_fd[i] = (up - loss(xd, x, wd, w, cd, yd, y, g)) / (2 * h);
        w[i] = keep;
    }
    for (int algo = 0; algo < 2; algo++) {
        size_t bytes = 0;
        CHECK_EQ(cudnnGetConvolutionBackwardDataWorkspaceSize(g_h, wd, yd, cd, xd, (cudnnConvolutionBwdDataAlgo_t)algo,
                                                              &bytes), CUDNN_STATUS_SUCCESS);
        void* ws = bytes ? dev_alloc(bytes) : nullptr;
        float* dx = dev(std::vector<float>(xv.size(), std::numeric_limits<float>::quiet_NaN()));
        CHECK_EQ(cudnnConvolutionBackwardData(g_h, &kOne, wd, w, yd, dy, cd, (cudnnConvolutionBwdDataAlgo_t)algo, ws,
                                              bytes, &kZero, xd, dx), CUDNN_STATUS_SUCCESS);
        for (size_t i = 0; i < xv.size(); i++) CHECK_NEAR(dx[i], dx_fd[i], 1e-3);
        CHECK_EQ(cudnnGetConvolutionBackwardFilterWorkspaceSize(g_h, xd, yd, cd, wd,
                                                                (cudnnConvolutionBwdFilterAlgo_t)algo, &bytes),
                 CUDNN_STATUS_SUCCESS);
        void* ws2 = bytes ? dev_alloc(bytes) : nullptr;
        float* dw = dev(std::vector<float>(wv.size(), 1.0f));
        const float beta = 1.0f;  // accumulate onto 1
        CHECK_EQ(cudnnConvolutionBackwardFilter(g_h, &kOne, xd, x, yd, dy, cd, (cudnnConvolutionBwdFilterAlgo_t)algo,
                                                ws2, bytes, &beta, wd, dw), CUDNN_STATUS_SUCCESS);
        for (size_t i = 0; i < wv.size(); i++) CHECK_NEAR(dw[i], dw_fd[i] + 1.0, 1e-3);
    }
}

}  // namespace

void workspace_find_and_errors(cudnnHandle_t h);
void fused_bias_activation(cudnnHandle_t h);

int main() {
    CHECK_EQ(cudnnCreate(&g_h), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnGetVersion(), 91400);
    output_dims();
    hand_forward();
    groups_and_nhwc();
    alpha_beta_and_tf32();
    for (auto mode : {CUDNN_CROSS_CORRELATION, CUDNN_CONVOLUTION})
        for (auto format : {CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NHWC}) backward_against_finite_differences(mode, format);
    workspace_find_and_errors(g_h);
    fused_bias_activation(g_h);
    CHECK_EQ(cudnnDestroy(g_h), CUDNN_STATUS_SUCCESS);
    return finish("cudnn_conv");
}
