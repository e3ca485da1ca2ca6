// Self-tests of the cuDNN stand-in's workspace queries, workspace refusal, cudnnFind*AlgorithmEx (order, status,
// memory, determinism, math type), non-deterministic algorithms, argument errors and device-range checks.
#include <string>

#include "cudnn_util.h"

namespace {
const float kOne = 1.0f, kZero = 0.0f;
}

void workspace_find_and_errors(cudnnHandle_t h) {
    auto xd = tensor(2, 3, 6, 6);
    auto wd = filter(4, 3, 3, 3);
    auto yd = tensor(2, 4, 6, 6);
    auto cd = conv(1, 1, 1, CUDNN_CROSS_CORRELATION, 1, CUDNN_DEFAULT_MATH);
    float *x = dev(random_values(2 * 3 * 36, 5)), *w = dev(random_values(4 * 27, 6)), *y = dev(random_values(288, 7));

    size_t implicit = 1, precomp = 0, gemm = 0, fft = 0;
    CHECK_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                                                     &implicit), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, &precomp),
             CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, CUDNN_CONVOLUTION_FWD_ALGO_GEMM, &gemm),
             CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, CUDNN_CONVOLUTION_FWD_ALGO_FFT, &fft),
             CUDNN_STATUS_NOT_SUPPORTED);
    CHECK_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd, (cudnnConvolutionFwdAlgo_t)9, &fft),
             CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(implicit, 0);
    CHECK_EQ(precomp, 27 * 16);      // one 16-byte entry per filter tap
    CHECK_EQ(gemm, 27 * 36 * 4);     // C·R·S × P·Q floats

    // Too small or missing workspace: refused, y untouched.
    void* ws = dev_alloc(gemm);
    y[0] = 12345.0f;
    CHECK_EQ(cudnnConvolutionForward(h, &kOne, xd, x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_GEMM, ws, gemm - 1, &kZero,
                                     yd, y), CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT);
    CHECK(last_error().find("workspace") != std::string::npos);
    CHECK_EQ(cudnnConvolutionForward(h, &kOne, xd, x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_GEMM, nullptr, gemm, &kZero,
                                     yd, y), CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT);
    CHECK_EQ(y[0], 12345);
    // A workspace that claims more bytes than its allocation holds: caught by the runtime's range check.
    void* short_ws = dev_alloc(gemm / 2);
    CHECK_EQ(cudnnConvolutionForward(h, &kOne, xd, x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_GEMM, short_ws, gemm,
                                     &kZero, yd, y), CUDNN_STATUS_EXECUTION_FAILED);
    CHECK(last_error().find("workSpace") != std::string::npos);

    // Find with room for every algorithm: successes first by modeled time, unsupported ones after.
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    CHECK_EQ(cudnnFindConvolutionForwardAlgorithmEx(h, xd, x, wd, w, cd, yd, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                    &returned, perf, ws, gemm), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(returned, CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    CHECK_EQ(perf[0].algo, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);  // TF32 tensor op is fastest
    CHECK_EQ(perf[0].mathType, CUDNN_TENSOR_OP_MATH);
    CHECK_EQ(perf[0].memory, precomp);
    CHECK_EQ(perf[1].algo, CUDNN_CONVOLUTION_FWD_ALGO_GEMM);
    CHECK_EQ(perf[1].memory, gemm);
    CHECK_EQ(perf[2].algo, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
    CHECK(perf[0].time > 0 && perf[0].time < perf[1].time && perf[1].time < perf[2].time);
    for (int i = 0; i < 3; i++) CHECK_EQ(perf[i].status, CUDNN_STATUS_SUCCESS);
    for (int i = 3; i < returned; i++) CHECK(perf[i].status != CUDNN_STATUS_SUCCESS);
    // Under FMA math and with a workspace too small for GEMM: GEMM is reported insufficient, not run.
    CHECK_EQ(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnFindConvolutionForwardAlgorithmEx(h, xd, x, wd, w, cd, yd, y, 2, &returned, perf, ws, precomp),
             CUDNN_STATUS_SUCCESS);
    CHECK_EQ(returned, 2);
    CHECK_EQ(perf[0].algo, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
    CHECK_EQ(perf[0].mathType, CUDNN_FMA_MATH);
    CHECK_EQ(perf[1].algo, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
    CHECK_EQ(cudnnFindConvolutionForwardAlgorithmEx(h, xd, x, wd, w, cd, yd, y, 8, &returned, perf, ws, precomp),
             CUDNN_STATUS_SUCCESS);
    bool gemm_refused = false;
    for (int i = 0; i < returned; i++)
        if (perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM)
            gemm_refused = perf[i].status == CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT && perf[i].memory == gemm;
    CHECK(gemm_refused);

    // Backward filter: ALGO_0 is non-deterministic (and first without TF32), ALGO_1 deterministic with a workspace.
    cudnnConvolutionBwdFilterAlgoPerf_t fperf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    float* dw = dev(random_values(4 * 27, 8));
    CHECK_EQ(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, xd, x, yd, y, cd, wd, dw, 7, &returned, fperf, ws, gemm),
             CUDNN_STATUS_SUCCESS);
    CHECK_EQ(fperf[0].algo, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0);
    CHECK_EQ(fperf[0].determinism, CUDNN_NON_DETERMINISTIC);
    CHECK_EQ(fperf[1].algo, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
    CHECK_EQ(fperf[1].determinism, CUDNN_DETERMINISTIC);
    CHECK(fperf[1].memory > 0);
    cudnnConvolutionBwdDataAlgoPerf_t dperf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    float* dx = dev(random_values(2 * 3 * 36, 9));
    CHECK_EQ(cudnnFindConvolutionBackwardDataAlgorithmEx(h, wd, w, yd, y, cd, xd, dx, 6, &returned, dperf, ws, gemm),
             CUDNN_STATUS_SUCCESS);
    CHECK_EQ(returned, 6);
    CHECK_EQ(dperf[0].determinism, CUDNN_NON_DETERMINISTIC);
    CHECK_EQ(dperf[1].determinism, CUDNN_DETERMINISTIC);

    // Non-determinism is real: float accumulation over images in a rotating order. Images hold 1e8, 1, −1e8 at one
    // pixel; a 1×1 filter's gradient is their sum, 1, which float addition only finds in some orders.
    auto x3 = tensor(3, 1, 1, 1), y3 = tensor(3, 1, 1, 1);
    auto w1 = filter(1, 1, 1, 1);
    auto c1 = conv(0, 1, 1, CUDNN_CROSS_CORRELATION);
    float* xs = dev({1e8f, 1.0f, -1e8f});
    float* ones = dev({1, 1, 1});
    float* g = dev({0});
    float seen[3];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cudnnConvolutionBackwardFilter(h, &kOne, x3, xs, y3, ones, c1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0,
                                                nullptr, 0, &kZero, w1, g), CUDNN_STATUS_SUCCESS);
        seen[i] = g[0];
    }
    CHECK(!(seen[0] == seen[1] && seen[1] == seen[2]));
    size_t need = 0;
    CHECK_EQ(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x3, y3, c1, w1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
                                                            &need), CUDNN_STATUS_SUCCESS);
    void* ws1 = dev_alloc(need);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cudnnConvolutionBackwardFilter(h, &kOne, x3, xs, y3, ones, c1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
                                                ws1, need, &kZero, w1, g), CUDNN_STATUS_SUCCESS);
        CHECK_EQ(g[0], 1);
    }

    // Backward data's ALGO_0 likewise: dx at one pixel sums w·dy over 3 output channels of a 1×1 filter.
    auto k3 = filter(3, 1, 1, 1);
    auto x1 = tensor(1, 1, 1, 1), y13 = tensor(1, 3, 1, 1);
    float* wk = dev({1e8f, 1.0f, -1e8f});
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(cudnnConvolutionBackwardData(h, &kOne, k3, wk, y13, ones, c1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
                                              nullptr, 0, &kZero, x1, g), CUDNN_STATUS_SUCCESS);
        seen[i] = g[0];
    }
    CHECK(!(seen[0] == seen[1] && seen[1] == seen[2]));

    // Argument errors name what was wrong.
    CHECK_EQ(cudnnConvolutionForward(h, nullptr, xd, x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0,
                                     &kZero, yd, y), CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnConvolutionForward(h, &kOne, xd, x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, nullptr, 0,
                                     &kZero, yd, y), CUDNN_STATUS_NOT_SUPPORTED);
    auto wrong_y = tensor(2, 4, 5, 6);
    CHECK_EQ(cudnnConvolutionForward(h, &kOne, xd, x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0,
                                     &kZero, wrong_y, y), CUDNN_STATUS_BAD_PARAM);
    CHECK(last_error().find("cudnnConvolutionForward: y is 2×4×5×6") != std::string::npos);
    CHECK_EQ(cudnnDestroyTensorDescriptor(wrong_y), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnConvolutionForward(h, &kOne, xd, x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0,
                                     &kZero, wrong_y, y), CUDNN_STATUS_BAD_PARAM);  // a freed descriptor
    CHECK_EQ(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 0, 1, 1, 1), CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnSetTensor4dDescriptor(xd, (cudnnTensorFormat_t)7, CUDNN_DATA_FLOAT, 1, 1, 1, 1),
             CUDNN_STATUS_BAD_PARAM);
    cudnnConvolutionDescriptor_t bad = nullptr;
    CHECK_EQ(cudnnCreateConvolutionDescriptor(&bad), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetConvolution2dDescriptor(bad, -1, 0, 1, 1, 1, 1, CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT),
             CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnSetConvolution2dDescriptor(bad, 0, 0, 0, 1, 1, 1, CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT),
             CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnSetConvolution2dDescriptor(bad, 0, 0, 1, 1, 1, 1, (cudnnConvolutionMode_t)5, CUDNN_DATA_FLOAT),
             CUDNN_STATUS_BAD_PARAM);
    CHECK_EQ(cudnnSetConvolutionGroupCount(bad, 0), CUDNN_STATUS_BAD_PARAM);
    // x in an allocation one float too short: the runtime's range check refuses the call.
    float* short_x = static_cast<float*>(dev_alloc((2 * 3 * 36 - 1) * sizeof(float)));
    long long before = call_count("cudnnConvolutionForward");
    CHECK_EQ(cudnnConvolutionForward(h, &kOne, xd, short_x, wd, w, cd, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                                     nullptr, 0, &kZero, yd, y), CUDNN_STATUS_EXECUTION_FAILED);
    CHECK(last_error().find(": x [") != std::string::npos);
    CHECK_EQ(call_count("cudnnConvolutionForward") - before, 1);
    CHECK(std::string(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM)) == "CUDNN_STATUS_BAD_PARAM");
}
