// Internals of libadvrobust-emu-cudnn.so: the objects behind cuDNN's opaque handles and descriptors, the registry
// that tells a live object from a freed or foreign pointer, the convolution geometry, and the error helper.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cudnn_types.h"
#include "emu_lib.h"

enum class Kind : uint32_t {
    Handle = 0x48444e4e,
    Tensor = 0x54454e53,
    Filter = 0x46494c54,
    Conv = 0x434f4e56,
    Activation = 0x41435456
};

struct cudnnContext {
    Kind kind;
    cudaStream_t stream;
};

// A 4-D tensor: dims and element strides (NCHW packed: w 1, h W, c H·W, n C·H·W; NHWC packed: c 1, w C, h W·C,
// n H·W·C; or explicit strides from cudnnSetTensor4dDescriptorEx).
struct cudnnTensorStruct {
    Kind kind;
    bool set;
    cudnnDataType_t type;
    int n, c, h, w;
    long long ns, cs, hs, ws;
    long long offset(int in, int ic, int ih, int iw) const { return in * ns + ic * cs + ih * hs + iw * ws; }
    size_t bytes() const { return ((size_t)((n - 1) * ns + (c - 1) * cs + (h - 1) * hs + (w - 1) * ws) + 1) * 4; }
};

// A K×C×R×S filter: NCHW stores it K, C, R, S (S fastest); NHWC stores it K, R, S, C (C fastest).
struct cudnnFilterStruct {
    Kind kind;
    bool set;
    cudnnDataType_t type;
    cudnnTensorFormat_t format;
    int k, c, r, s;
    long long offset(int ik, int ic, int ir, int is) const {
        return format == CUDNN_TENSOR_NHWC ? (((long long)ik * r + ir) * s + is) * c + ic
                                           : (((long long)ik * c + ic) * r + ir) * s + is;
    }
    size_t bytes() const { return (size_t)k * c * r * s * 4; }
};

struct cudnnConvolutionStruct {
    Kind kind;
    bool set;
    int pad_h, pad_w, u, v, dil_h, dil_w;
    cudnnConvolutionMode_t mode;
    cudnnDataType_t compute;
    cudnnMathType_t math;
    int groups;
};

// An activation (cudnnSetActivationDescriptor): mode, NaN propagation and coef (ceiling of clipped ReLU, α of ELU).
struct cudnnActivationStruct {
    Kind kind;
    bool set;
    cudnnActivationMode_t mode;
    cudnnNanPropagation_t nan;
    double coef;
};

namespace cudnn_emu {

void track(const void* object);
void untrack(const void* object);
bool is_live(const void* object, Kind kind);

// Sets the last-error text to "<function>: <message>" and returns `status`.
cudnnStatus_t fail(cudnnStatus_t status, const char* function, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// A checked device range: EXECUTION_FAILED with the reason when [p, p + bytes) is not device memory.
cudnnStatus_t check(const void* p, size_t bytes, const char* function, const char* what);

// Geometry of one convolution, validated from its four descriptors. Output (p, q) reads input row
// p·u − pad_h + r·dil_h and column q·v − pad_w + s·dil_w for filter tap (r, s); the filter element used is
// (r, s) for cross-correlation and (R−1−r, S−1−s) for convolution. Group g uses input channels [g·Cg, (g+1)·Cg)
// and output channels [g·Kg, (g+1)·Kg).
struct Geometry {
    int n, c, h, w, k, r, s, p, q, groups, cg, kg;
    int pad_h, pad_w, u, v, dil_h, dil_w;
    bool flip;
    long long macs() const { return (long long)n * k * cg * r * s * p * q; }
};

// Checks handle, descriptors, types and shapes (y may be null: only the output-dimension query). Returns SUCCESS or
// the documented status with the reason in the last error.
cudnnStatus_t geometry(const char* function, const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                       const cudnnConvolutionStruct* conv, const cudnnTensorStruct* y, Geometry* out);

}  // namespace cudnn_emu
