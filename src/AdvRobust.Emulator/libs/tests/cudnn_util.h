// Helpers shared by the cuDNN self-tests: descriptors in one call, fake device buffers, a seeded generator.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "api.h"
#include "check.h"

inline cudnnTensorDescriptor_t tensor(int n, int c, int h, int w, cudnnTensorFormat_t f = CUDNN_TENSOR_NCHW) {
    cudnnTensorDescriptor_t d = nullptr;
    CHECK_EQ(cudnnCreateTensorDescriptor(&d), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetTensor4dDescriptor(d, f, CUDNN_DATA_FLOAT, n, c, h, w), CUDNN_STATUS_SUCCESS);
    return d;
}

inline cudnnFilterDescriptor_t filter(int k, int c, int r, int s, cudnnTensorFormat_t f = CUDNN_TENSOR_NCHW) {
    cudnnFilterDescriptor_t d = nullptr;
    CHECK_EQ(cudnnCreateFilterDescriptor(&d), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, f, k, c, r, s), CUDNN_STATUS_SUCCESS);
    return d;
}

inline cudnnConvolutionDescriptor_t conv(int pad, int stride, int dil, cudnnConvolutionMode_t mode, int groups = 1,
                                         cudnnMathType_t math = CUDNN_FMA_MATH) {
    cudnnConvolutionDescriptor_t d = nullptr;
    CHECK_EQ(cudnnCreateConvolutionDescriptor(&d), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetConvolution2dDescriptor(d, pad, pad, stride, stride, dil, dil, mode, CUDNN_DATA_FLOAT),
             CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetConvolutionGroupCount(d, groups), CUDNN_STATUS_SUCCESS);
    CHECK_EQ(cudnnSetConvolutionMathType(d, math), CUDNN_STATUS_SUCCESS);
    return d;
}

inline float* dev(const std::vector<float>& v) {
    auto* p = static_cast<float*>(dev_alloc(v.size() * sizeof(float)));
    std::memcpy(p, v.data(), v.size() * sizeof(float));
    return p;
}

inline std::vector<float> random_values(size_t n, uint32_t seed) {
    std::vector<float> v(n);
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (float& x : v) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;  // [-1, 1) in steps of 2^-15
    }
    return v;
}

inline std::string last_error() {
    char buffer[1024];
    cudnnGetLastErrorString(buffer, sizeof buffer);
    return buffer;
}
