// libadvrobust-emu-cudnn.so, part 1: handle, stream, version, error strings, and the tensor, filter and convolution
// descriptors with the checks cuDNN documents (BAD_PARAM for bad enumerants and non-positive sizes), written from
// cudnn_graph.h / cudnn_ops.h / cudnn_cnn.h 9.14. Objects are tracked, so a freed or foreign descriptor is refused
// with CUDNN_STATUS_BAD_PARAM instead of being read.
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_set>

#include "cudnn_emu.h"

namespace cudnn_emu {
namespace {
std::mutex g_gate;
std::unordered_set<const void*> g_live;
}  // namespace

void track(const void* object) {
    std::lock_guard<std::mutex> lock(g_gate);
    g_live.insert(object);
}

void untrack(const void* object) {
    std::lock_guard<std::mutex> lock(g_gate);
    g_live.erase(object);
}

bool is_live(const void* object, Kind kind) {
    if (object == nullptr) return false;
    std::lock_guard<std::mutex> lock(g_gate);
    return g_live.count(object) != 0 && *static_cast<const Kind*>(object) == kind;
}

cudnnStatus_t fail(cudnnStatus_t status, const char* function, const char* format, ...) {
    char buffer[768];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    emu::set_last_error("%s: %s", function, buffer);
    return status;
}

cudnnStatus_t check(const void* p, size_t bytes, const char* function, const char* what) {
    char message[768];
    if (emu::check_range(p, bytes, function, what, message, sizeof message) == 0) return CUDNN_STATUS_SUCCESS;
    std::fprintf(stderr, "advrobust-emu-cudnn: %s\n", message);
    emu::set_last_error("%s", message);
    return CUDNN_STATUS_EXECUTION_FAILED;
}

}  // namespace cudnn_emu

using namespace cudnn_emu;

namespace {

template <typename T>
cudnnStatus_t create(T** out, Kind kind, const char* function) {
    emu::count_call("cudnn", function);
    if (out == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, function, "the output pointer is null");
    T* object = new T{};
    object->kind = kind;
    track(object);
    *out = object;
    return CUDNN_STATUS_SUCCESS;
}

template <typename T>
cudnnStatus_t destroy(T* object, Kind kind, const char* function) {
    emu::count_call("cudnn", function);
    if (object == nullptr) return CUDNN_STATUS_SUCCESS;  // cuDNN accepts destroying NULL
    if (!is_live(object, kind)) return fail(CUDNN_STATUS_BAD_PARAM, function, "not a live descriptor (freed twice?)");
    untrack(object);
    delete object;
    return CUDNN_STATUS_SUCCESS;
}

bool valid_type(cudnnDataType_t t) {
    return t == CUDNN_DATA_FLOAT || t == CUDNN_DATA_DOUBLE || t == CUDNN_DATA_HALF || t == CUDNN_DATA_BFLOAT16;
}

}  // namespace

EMU_EXPORT const char* advrobust_emulator_name(void) {
    return "AdvRobust CUDA emulator: cuDNN 9.14.0 stand-in (libadvrobust-emu-cudnn.so, host execution)";
}

EMU_EXPORT size_t cudnnGetVersion(void) { return CUDNN_EMU_VERSION; }

EMU_EXPORT size_t cudnnGetCudartVersion(void) { return CUDNN_EMU_CUDART_VERSION; }

EMU_EXPORT const char* cudnnGetErrorString(cudnnStatus_t status) {
    switch (status) {
        case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
        case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
        case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
        case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
        case CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED: return "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED";
        case CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND: return "CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND";
        case CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT: return "CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT";
        case CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH: return "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH";
        case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
        case CUDNN_STATUS_NOT_SUPPORTED_SHAPE: return "CUDNN_STATUS_NOT_SUPPORTED_SHAPE";
        case CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE: return "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE";
        case CUDNN_STATUS_NOT_SUPPORTED_LAYOUT: return "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT";
        case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
        case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    }
    return "CUDNN_UNKNOWN_STATUS_FOUND";
}

// Copies the calling thread's last error (empty when none) and clears it, as cuDNN 9 does.
EMU_EXPORT void cudnnGetLastErrorString(char* message, size_t max_size) {
    if (message == nullptr || max_size == 0) return;
    std::snprintf(message, max_size, "%s", emu::last_error());
    emu::clear_last_error();
}

EMU_EXPORT cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) { return create(handle, Kind::Handle, "cudnnCreate"); }

EMU_EXPORT cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) { return destroy(handle, Kind::Handle, "cudnnDestroy"); }

EMU_EXPORT cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId) {
    emu::count_call("cudnn", "cudnnSetStream");
    if (!is_live(handle, Kind::Handle)) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetStream", "not a live handle");
    handle->stream = streamId;
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t* streamId) {
    if (!is_live(handle, Kind::Handle) || streamId == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnGetStream", "not a live handle, or a null output");
    *streamId = handle->stream;
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* tensorDesc) {
    return create(tensorDesc, Kind::Tensor, "cudnnCreateTensorDescriptor");
}

EMU_EXPORT cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) {
    return destroy(tensorDesc, Kind::Tensor, "cudnnDestroyTensorDescriptor");
}

EMU_EXPORT cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType,
                                                      int n, int c, int h, int w, int nStride, int cStride,
                                                      int hStride, int wStride) {
    const char* fn = "cudnnSetTensor4dDescriptorEx";
    emu::count_call("cudnn", fn);
    if (!is_live(tensorDesc, Kind::Tensor)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a live tensor descriptor");
    if (!valid_type(dataType)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "invalid data type %d", (int)dataType);
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "dimensions %d×%d×%d×%d must all be positive", n, c, h, w);
    if (nStride <= 0 || cStride <= 0 || hStride <= 0 || wStride <= 0)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "strides %d, %d, %d, %d must all be positive", nStride, cStride,
                    hStride, wStride);
    if ((long long)n * c * h * w > (1LL << 31))
        return fail(CUDNN_STATUS_NOT_SUPPORTED, fn, "more than 2^31 elements");
    *tensorDesc = {Kind::Tensor, true, dataType, n, c, h, w, nStride, cStride, hStride, wStride};
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
                                                    cudnnDataType_t dataType, int n, int c, int h, int w) {
    const char* fn = "cudnnSetTensor4dDescriptor";
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC) {
        emu::count_call("cudnn", fn);
        return fail(format == CUDNN_TENSOR_NCHW_VECT_C ? CUDNN_STATUS_NOT_SUPPORTED : CUDNN_STATUS_BAD_PARAM, fn,
                    "format %d (NCHW and NHWC are emulated)", (int)format);
    }
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0) {
        emu::count_call("cudnn", fn);
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "dimensions %d×%d×%d×%d must all be positive", n, c, h, w);
    }
    if (format == CUDNN_TENSOR_NCHW) return cudnnSetTensor4dDescriptorEx(tensorDesc, dataType, n, c, h, w, c * h * w, h * w, w, 1);
    return cudnnSetTensor4dDescriptorEx(tensorDesc, dataType, n, c, h, w, h * w * c, 1, w * c, c);
}

EMU_EXPORT cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* filterDesc) {
    return create(filterDesc, Kind::Filter, "cudnnCreateFilterDescriptor");
}

EMU_EXPORT cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) {
    return destroy(filterDesc, Kind::Filter, "cudnnDestroyFilterDescriptor");
}

EMU_EXPORT cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
                                                    cudnnTensorFormat_t format, int k, int c, int h, int w) {
    const char* fn = "cudnnSetFilter4dDescriptor";
    emu::count_call("cudnn", fn);
    if (!is_live(filterDesc, Kind::Filter)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a live filter descriptor");
    if (!valid_type(dataType)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "invalid data type %d", (int)dataType);
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
        return fail(format == CUDNN_TENSOR_NCHW_VECT_C ? CUDNN_STATUS_NOT_SUPPORTED : CUDNN_STATUS_BAD_PARAM, fn,
                    "format %d (NCHW and NHWC are emulated)", (int)format);
    if (k <= 0 || c <= 0 || h <= 0 || w <= 0)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "dimensions %d×%d×%d×%d must all be positive", k, c, h, w);
    *filterDesc = {Kind::Filter, true, dataType, format, k, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* convDesc) {
    cudnnStatus_t status = create(convDesc, Kind::Conv, "cudnnCreateConvolutionDescriptor");
    if (status == CUDNN_STATUS_SUCCESS) {
        (*convDesc)->groups = 1;
        (*convDesc)->math = CUDNN_DEFAULT_MATH;
    }
    return status;
}

EMU_EXPORT cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) {
    return destroy(convDesc, Kind::Conv, "cudnnDestroyConvolutionDescriptor");
}

EMU_EXPORT cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w,
                                                         int u, int v, int dilation_h, int dilation_w,
                                                         cudnnConvolutionMode_t mode, cudnnDataType_t computeType) {
    const char* fn = "cudnnSetConvolution2dDescriptor";
    emu::count_call("cudnn", fn);
    if (!is_live(convDesc, Kind::Conv)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a live convolution descriptor");
    if (pad_h < 0 || pad_w < 0) return fail(CUDNN_STATUS_BAD_PARAM, fn, "padding %d, %d is negative", pad_h, pad_w);
    if (u <= 0 || v <= 0) return fail(CUDNN_STATUS_BAD_PARAM, fn, "stride %d, %d must be positive", u, v);
    if (dilation_h <= 0 || dilation_w <= 0)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "dilation %d, %d must be positive", dilation_h, dilation_w);
    if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "invalid mode %d", (int)mode);
    if (!valid_type(computeType)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "invalid compute type %d", (int)computeType);
    convDesc->set = true;
    convDesc->pad_h = pad_h, convDesc->pad_w = pad_w, convDesc->u = u, convDesc->v = v;
    convDesc->dil_h = dilation_h, convDesc->dil_w = dilation_w, convDesc->mode = mode, convDesc->compute = computeType;
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType) {
    const char* fn = "cudnnSetConvolutionMathType";
    emu::count_call("cudnn", fn);
    if (!is_live(convDesc, Kind::Conv)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a live convolution descriptor");
    if (mathType < CUDNN_DEFAULT_MATH || mathType > CUDNN_FMA_MATH)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "invalid math type %d", (int)mathType);
    convDesc->math = mathType;
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnGetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t* mathType) {
    if (!is_live(convDesc, Kind::Conv) || mathType == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnGetConvolutionMathType", "not a live descriptor, or a null output");
    *mathType = convDesc->math;
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc, int groupCount) {
    const char* fn = "cudnnSetConvolutionGroupCount";
    emu::count_call("cudnn", fn);
    if (!is_live(convDesc, Kind::Conv)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a live convolution descriptor");
    if (groupCount <= 0) return fail(CUDNN_STATUS_BAD_PARAM, fn, "group count %d must be positive", groupCount);
    convDesc->groups = groupCount;
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnGetConvolutionGroupCount(cudnnConvolutionDescriptor_t convDesc, int* groupCount) {
    if (!is_live(convDesc, Kind::Conv) || groupCount == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, "cudnnGetConvolutionGroupCount", "not a live descriptor, or a null output");
    *groupCount = convDesc->groups;
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
                                                               const cudnnTensorDescriptor_t inputTensorDesc,
                                                               const cudnnFilterDescriptor_t filterDesc, int* n,
                                                               int* c, int* h, int* w) {
    const char* fn = "cudnnGetConvolution2dForwardOutputDim";
    emu::count_call("cudnn", fn);
    if (n == nullptr || c == nullptr || h == nullptr || w == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "an output pointer is null");
    Geometry g{};
    cudnnStatus_t status = geometry(fn, inputTensorDesc, filterDesc, convDesc, nullptr, &g);
    if (status != CUDNN_STATUS_SUCCESS) return status;
    *n = g.n, *c = g.k, *h = g.p, *w = g.q;
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t* activationDesc) {
    return create(activationDesc, Kind::Activation, "cudnnCreateActivationDescriptor");
}

EMU_EXPORT cudnnStatus_t cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t activationDesc) {
    return destroy(activationDesc, Kind::Activation, "cudnnDestroyActivationDescriptor");
}

EMU_EXPORT cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t activationDesc,
                                                      cudnnActivationMode_t mode, cudnnNanPropagation_t reluNanOpt,
                                                      double coef) {
    const char* fn = "cudnnSetActivationDescriptor";
    emu::count_call("cudnn", fn);
    if (!is_live(activationDesc, Kind::Activation))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a live activation descriptor");
    if (mode < CUDNN_ACTIVATION_SIGMOID || mode > CUDNN_ACTIVATION_SWISH)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "invalid activation mode %d", (int)mode);
    if (reluNanOpt != CUDNN_NOT_PROPAGATE_NAN && reluNanOpt != CUDNN_PROPAGATE_NAN)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "invalid NaN propagation %d", (int)reluNanOpt);
    *activationDesc = {Kind::Activation, true, mode, reluNanOpt, coef};
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnGetActivationDescriptor(const cudnnActivationDescriptor_t activationDesc,
                                                      cudnnActivationMode_t* mode, cudnnNanPropagation_t* reluNanOpt,
                                                      double* coef) {
    const char* fn = "cudnnGetActivationDescriptor";
    emu::count_call("cudnn", fn);
    if (!is_live(activationDesc, Kind::Activation) || !activationDesc->set)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a live, set activation descriptor");
    if (mode == nullptr || reluNanOpt == nullptr || coef == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "an output pointer is null");
    *mode = activationDesc->mode;
    *reluNanOpt = activationDesc->nan;
    *coef = activationDesc->coef;
    return CUDNN_STATUS_SUCCESS;
}
