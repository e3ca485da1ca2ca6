// libadvrobust-emu-cudnn.so, part 2: the legacy convolution API (cudnn_cnn.h 9.14): geometry checks, the
// algorithms each pass offers with their workspace sizes, cudnnFind*AlgorithmEx, and the three passes.
//
// Algorithms (others of each enum are CUDNN_STATUS_NOT_SUPPORTED here, as FFT and Winograd are for many shapes):
//   forward   IMPLICIT_GEMM (no workspace), IMPLICIT_PRECOMP_GEMM (tap table, tensor op), GEMM (column matrix)
//   bwd data  ALGO_0 (no workspace, non-deterministic), ALGO_1 (column matrix, deterministic, tensor op)
//   bwd filt  ALGO_0 (no workspace, non-deterministic), ALGO_1 (column matrix, deterministic, tensor op)
// A tensor-op algorithm rounds its inputs to TF32 unless the descriptor's math type is CUDNN_FMA_MATH.
// Find reports a modeled time (the emulator cannot time a GPU): multiply-adds × a per-algorithm factor, so its
// order is reproducible; it runs every algorithm that fits the given workspace on the real buffers.
// A workspace smaller than an algorithm needs is refused with CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT.
// cudnnConvolutionBiasActivationForward: y = act(alpha1·conv(x) + alpha2·z + bias[k]) with the forward algorithms
// above; act is RELU or IDENTITY (others NOT_SUPPORTED), and IDENTITY only with IMPLICIT_PRECOMP_GEMM, as documented.
// z may alias y; alpha2 = 0 never reads z. The convolution goes to a host buffer first, then one pass adds
// alpha2·z and the bias (in that order, in float) and applies the activation (RELU: v > 0 ? v : 0, NaN kept with
// CUDNN_PROPAGATE_NAN). Under stream capture the call is recorded as a graph node, like the three passes.
#include <algorithm>
#include <vector>

#include "cudnn_conv_math.h"

using namespace cudnn_emu;

namespace {

enum class Pass { Forward, BackwardData, BackwardFilter };

struct Algo {
    int id;
    bool deterministic, tensor_op;
    double cost_fma, cost_tf32;  // modeled ms per million multiply-adds
};

// Supported algorithms of each pass, in enum order.
const std::vector<Algo>& algorithms(Pass pass) {
    static const std::vector<Algo> fwd = {{CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, true, false, 1.0, 1.0},
                                          {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, true, true, 0.9, 0.3},
                                          {CUDNN_CONVOLUTION_FWD_ALGO_GEMM, true, false, 0.7, 0.7}};
    static const std::vector<Algo> data = {{CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, false, false, 0.8, 0.8},
                                           {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, true, true, 0.9, 0.3}};
    static const std::vector<Algo> filter = {{CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, false, false, 0.8, 0.8},
                                             {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, true, true, 0.9, 0.3}};
    return pass == Pass::Forward ? fwd : pass == Pass::BackwardData ? data : filter;
}

int algo_count(Pass pass) {
    if (pass == Pass::Forward) return CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    if (pass == Pass::BackwardData) return CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
}

const Algo* find_algo(Pass pass, int id) {
    for (const Algo& a : algorithms(pass))
        if (a.id == id) return &a;
    return nullptr;
}

size_t workspace_for(Pass pass, int id, const Geometry& g) {
    if (pass == Pass::Forward && id == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) return precomp_workspace(g);
    if (pass == Pass::Forward && id == CUDNN_CONVOLUTION_FWD_ALGO_GEMM) return column_workspace(g);
    if (pass != Pass::Forward && id == 1) return column_workspace(g);
    return 0;
}

// The descriptors and buffers of one pass in the convolution's own terms: x-shaped, w-shaped and y-shaped.
struct Call {
    const char* fn;
    Pass pass;
    cudnnHandle_t handle;
    const cudnnTensorStruct* xd;
    const cudnnFilterStruct* wd;
    const cudnnConvolutionStruct* conv;
    const cudnnTensorStruct* yd;
    const void *x, *w, *y;  // the output among them is written
};

cudnnStatus_t validate(const Call& c, Geometry* g) {
    if (!is_live(c.handle, Kind::Handle)) return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "not a live cuDNN handle");
    return geometry(c.fn, c.xd, c.wd, c.conv, c.yd, g);
}

cudnnStatus_t check_buffers(const Call& c) {
    if (c.x == nullptr || c.w == nullptr || c.y == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "a data pointer (x, w or y) is null");
    const char* names[3] = {c.pass == Pass::BackwardData ? "dx" : "x", c.pass == Pass::BackwardFilter ? "dw" : "w",
                            c.pass == Pass::Forward ? "y" : "dy"};
    cudnnStatus_t s;
    if ((s = check(c.x, c.xd->bytes(), c.fn, names[0])) != CUDNN_STATUS_SUCCESS) return s;
    if ((s = check(c.w, c.wd->bytes(), c.fn, names[1])) != CUDNN_STATUS_SUCCESS) return s;
    return check(c.y, c.yd->bytes(), c.fn, names[2]);
}

void execute(const Call& c, const Geometry& g, const Algo& algo, float alpha, float beta, void* workspace) {
    ConvArgs a{&g, c.xd, c.wd, c.yd, alpha, beta, algo.tensor_op && c.conv->math != CUDNN_FMA_MATH, workspace};
    auto x = static_cast<const float*>(c.x), w = static_cast<const float*>(c.w), y = static_cast<const float*>(c.y);
    switch (c.pass) {
        case Pass::Forward:
            if (algo.id == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) forward_direct(a, x, w, const_cast<float*>(y));
            else if (algo.id == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) forward_precomp(a, x, w, const_cast<float*>(y));
            else forward_gemm(a, x, w, const_cast<float*>(y));
            emu::mark_written(y, c.yd->bytes());
            break;
        case Pass::BackwardData:
            if (algo.id == 0) backward_data_scatter(a, w, y, const_cast<float*>(x));
            else backward_data_columns(a, w, y, const_cast<float*>(x));
            emu::mark_written(x, c.xd->bytes());
            break;
        case Pass::BackwardFilter:
            if (algo.id == 0) backward_filter_scatter(a, x, y, const_cast<float*>(w));
            else backward_filter_columns(a, x, y, const_cast<float*>(w));
            emu::mark_written(w, c.wd->bytes());
            break;
    }
}

cudnnStatus_t workspace_size(const Call& c, int algo, size_t* size) {
    emu::count_call("cudnn", c.fn);
    Geometry g{};
    cudnnStatus_t s = validate(c, &g);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (size == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "sizeInBytes is null");
    if (algo < 0 || algo >= algo_count(c.pass)) return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "invalid algorithm %d", algo);
    if (find_algo(c.pass, algo) == nullptr)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, c.fn, "algorithm %d is not offered by the emulator", algo);
    *size = workspace_for(c.pass, algo, g);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t run(const Call& c, int algo, const void* alpha, const void* beta, void* workspace, size_t ws_bytes) {
    emu::count_call("cudnn", c.fn);
    Geometry g{};
    cudnnStatus_t s = validate(c, &g);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (alpha == nullptr || beta == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "alpha or beta is null");
    if (algo < 0 || algo >= algo_count(c.pass)) return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "invalid algorithm %d", algo);
    const Algo* a = find_algo(c.pass, algo);
    if (a == nullptr) return fail(CUDNN_STATUS_NOT_SUPPORTED, c.fn, "algorithm %d is not offered by the emulator", algo);
    size_t need = workspace_for(c.pass, algo, g);
    if (ws_bytes < need || (need > 0 && workspace == nullptr))
        return fail(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT, c.fn,
                    "algorithm %d needs a %zu-byte workspace; %zu bytes at %p were given", algo, need, ws_bytes,
                    workspace);
    if ((s = check_buffers(c)) != CUDNN_STATUS_SUCCESS) return s;
    if ((s = check(workspace, need, c.fn, "workSpace")) != CUDNN_STATUS_SUCCESS) return s;
    // Recordable into a graph: the work holds copies of the descriptors and the host scalars alpha and beta.
    const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
    auto work = [c, xd = *c.xd, wd = *c.wd, conv = *c.conv, yd = *c.yd, g, algo = *a, al, be, workspace]() {
        Call k = c;
        k.xd = &xd;
        k.wd = &wd;
        k.conv = &conv;
        k.yd = &yd;
        execute(k, g, algo, al, be, workspace);
        return (int)CUDNN_STATUS_SUCCESS;
    };
    if (emu::submit(c.handle->stream, "cudnn", c.fn, work) == emu::CaptureInvalidated)
        return fail(CUDNN_STATUS_EXECUTION_FAILED, c.fn, "the stream's graph capture was invalidated");
    return CUDNN_STATUS_SUCCESS;
}

bool same_dims(const cudnnTensorStruct* a, const cudnnTensorStruct* b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

cudnnStatus_t fused(const Call& c, int algo, float alpha1, float alpha2, const cudnnTensorStruct* zd, const void* z,
                    const cudnnTensorStruct* bd, const void* bias, const cudnnActivationStruct* act, void* workspace,
                    size_t ws_bytes) {
    Geometry g{};
    cudnnStatus_t s = validate(c, &g);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (!is_live(act, Kind::Activation) || !act->set)
        return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "activationDesc is not a live, set activation descriptor");
    if (act->mode != CUDNN_ACTIVATION_RELU && act->mode != CUDNN_ACTIVATION_IDENTITY)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, c.fn, "activation mode %d (only RELU and IDENTITY)", (int)act->mode);
    if (act->mode == CUDNN_ACTIVATION_IDENTITY && algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM)
        return fail(CUDNN_STATUS_NOT_SUPPORTED, c.fn, "IDENTITY needs IMPLICIT_PRECOMP_GEMM, got algorithm %d", algo);
    if (!is_live(zd, Kind::Tensor) || !zd->set || !same_dims(zd, c.yd) || zd->type != CUDNN_DATA_FLOAT)
        return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "zDesc must be a set float tensor of y's dimensions");
    if (!is_live(bd, Kind::Tensor) || !bd->set || bd->n != 1 || bd->c != g.k || bd->h != 1 || bd->w != 1 ||
        bd->type != CUDNN_DATA_FLOAT)
        return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "biasDesc must be a set float 1×%d×1×1 tensor", g.k);
    if (algo < 0 || algo >= algo_count(Pass::Forward))
        return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "invalid algorithm %d", algo);
    const Algo* a = find_algo(Pass::Forward, algo);
    if (a == nullptr) return fail(CUDNN_STATUS_NOT_SUPPORTED, c.fn, "algorithm %d is not offered by the emulator", algo);
    size_t need = workspace_for(Pass::Forward, algo, g);
    if (ws_bytes < need || (need > 0 && workspace == nullptr))
        return fail(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT, c.fn,
                    "algorithm %d needs a %zu-byte workspace; %zu bytes at %p were given", algo, need, ws_bytes,
                    workspace);
    if ((s = check_buffers(c)) != CUDNN_STATUS_SUCCESS) return s;
    if ((s = check(workspace, need, c.fn, "workSpace")) != CUDNN_STATUS_SUCCESS) return s;
    if (bias == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "bias is null");
    if ((s = check(bias, bd->bytes(), c.fn, "bias")) != CUDNN_STATUS_SUCCESS) return s;
    if (alpha2 != 0.0f) {
        if (z == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "z is null with alpha2 != 0");
        if ((s = check(z, zd->bytes(), c.fn, "z")) != CUDNN_STATUS_SUCCESS) return s;
    }
    // The convolution into a host buffer laid out like y (z may be y), then the epilogue element by element.
    // Recordable into a graph: the work holds copies of the descriptors, the activation and the scalars.
    const bool tf32 = a->tensor_op && c.conv->math != CUDNN_FMA_MATH;
    const cudnnActivationMode_t mode = act->mode;
    const bool keep_nan = act->nan == CUDNN_PROPAGATE_NAN;
    auto work = [c, xd = *c.xd, wd = *c.wd, yd = *c.yd, zdc = *zd, bdc = *bd, g, algo, alpha1, alpha2, tf32, mode,
                 keep_nan, z, bias, workspace]() {
        std::vector<float> conv(yd.bytes() / sizeof(float));
        ConvArgs args{&g, &xd, &wd, &yd, alpha1, 0.0f, tf32, workspace};
        auto x = static_cast<const float*>(c.x), w = static_cast<const float*>(c.w);
        if (algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) forward_direct(args, x, w, conv.data());
        else if (algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) forward_precomp(args, x, w, conv.data());
        else forward_gemm(args, x, w, conv.data());
        auto zf = static_cast<const float*>(z), bf = static_cast<const float*>(bias);
        auto y = static_cast<float*>(const_cast<void*>(c.y));
        for (int n = 0; n < g.n; n++)
            for (int k = 0; k < g.k; k++)
                for (int p = 0; p < g.p; p++)
                    for (int q = 0; q < g.q; q++) {
                        float v = conv[yd.offset(n, k, p, q)];
                        if (alpha2 != 0.0f) v = v + alpha2 * zf[zdc.offset(n, k, p, q)];
                        v = v + bf[bdc.offset(0, k, 0, 0)];
                        if (mode == CUDNN_ACTIVATION_RELU && !(keep_nan && v != v)) v = v > 0.0f ? v : 0.0f;
                        y[yd.offset(n, k, p, q)] = v;
                    }
        emu::mark_written(y, yd.bytes());
        return (int)CUDNN_STATUS_SUCCESS;
    };
    if (emu::submit(c.handle->stream, "cudnn", c.fn, work) == emu::CaptureInvalidated)
        return fail(CUDNN_STATUS_EXECUTION_FAILED, c.fn, "the stream's graph capture was invalidated");
    return CUDNN_STATUS_SUCCESS;
}

template <typename Perf, typename AlgoEnum>
cudnnStatus_t find(const Call& c, int requested, int* returned, Perf* perf, void* workspace, size_t ws_bytes) {
    emu::count_call("cudnn", c.fn);
    Geometry g{};
    cudnnStatus_t s = validate(c, &g);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (requested <= 0 || returned == nullptr || perf == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, c.fn, "requestedAlgoCount %d, returnedAlgoCount or perfResults is invalid",
                    requested);
    if ((s = check_buffers(c)) != CUDNN_STATUS_SUCCESS) return s;
    if ((s = check(workspace, ws_bytes, c.fn, "workSpace")) != CUDNN_STATUS_SUCCESS) return s;
    // Find times its candidates and waits for them: not possible while the stream captures a graph.
    if (emu::sync_refused(c.handle->stream, c.fn))
        return fail(CUDNN_STATUS_EXECUTION_FAILED, c.fn, "the stream is capturing a CUDA graph (find algorithms before "
                                                         "capture); the capture is invalidated");
    std::vector<Perf> results;
    const float one = 1.0f, zero = 0.0f;
    for (int id = 0; id < algo_count(c.pass); id++) {
        Perf p{};
        p.algo = (AlgoEnum)id;
        p.time = -1.0f;
        p.determinism = CUDNN_NON_DETERMINISTIC;
        p.mathType = c.conv->math;
        const Algo* a = find_algo(c.pass, id);
        if (a == nullptr) {
            p.status = CUDNN_STATUS_NOT_SUPPORTED;
        } else {
            p.memory = workspace_for(c.pass, id, g);
            p.determinism = a->deterministic ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC;
            bool tf32 = a->tensor_op && c.conv->math != CUDNN_FMA_MATH;
            p.mathType = tf32 ? CUDNN_TENSOR_OP_MATH : c.conv->math;
            if (p.memory > ws_bytes) {
                p.status = CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT;
            } else {
                execute(c, g, *a, one, zero, workspace);
                p.status = CUDNN_STATUS_SUCCESS;
                p.time = (float)((double)g.macs() * 1e-6 * (tf32 ? a->cost_tf32 : a->cost_fma));
            }
        }
        results.push_back(p);
    }
    std::stable_sort(results.begin(), results.end(), [](const Perf& l, const Perf& r) {
        bool lo = l.status == CUDNN_STATUS_SUCCESS, ro = r.status == CUDNN_STATUS_SUCCESS;
        return lo != ro ? lo : (lo && l.time < r.time);
    });
    int n = std::min<int>(requested, (int)results.size());
    std::copy(results.begin(), results.begin() + n, perf);
    *returned = n;
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace

EMU_EXPORT cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo,
    size_t* sizeInBytes) {
    return workspace_size({"cudnnGetConvolutionForwardWorkspaceSize", Pass::Forward, handle, xDesc, wDesc, convDesc,
                           yDesc, nullptr, nullptr, nullptr},
                          algo, sizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,
    cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes) {
    return workspace_size({"cudnnGetConvolutionBackwardDataWorkspaceSize", Pass::BackwardData, handle, dxDesc, wDesc,
                           convDesc, dyDesc, nullptr, nullptr, nullptr},
                          algo, sizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, size_t* sizeInBytes) {
    return workspace_size({"cudnnGetConvolutionBackwardFilterWorkspaceSize", Pass::BackwardFilter, handle, xDesc,
                           gradDesc, convDesc, dyDesc, nullptr, nullptr, nullptr},
                          algo, sizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha,
                                                 const cudnnTensorDescriptor_t xDesc, const void* x,
                                                 const cudnnFilterDescriptor_t wDesc, const void* w,
                                                 const cudnnConvolutionDescriptor_t convDesc,
                                                 cudnnConvolutionFwdAlgo_t algo, void* workSpace,
                                                 size_t workSpaceSizeInBytes, const void* beta,
                                                 const cudnnTensorDescriptor_t yDesc, void* y) {
    return run({"cudnnConvolutionForward", Pass::Forward, handle, xDesc, wDesc, convDesc, yDesc, x, w, y}, algo, alpha,
               beta, workSpace, workSpaceSizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                                      const cudnnFilterDescriptor_t wDesc, const void* w,
                                                      const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                      cudnnConvolutionBwdDataAlgo_t algo, void* workSpace,
                                                      size_t workSpaceSizeInBytes, const void* beta,
                                                      const cudnnTensorDescriptor_t dxDesc, void* dx) {
    return run({"cudnnConvolutionBackwardData", Pass::BackwardData, handle, dxDesc, wDesc, convDesc, dyDesc, dx, w, dy},
               algo, alpha, beta, workSpace, workSpaceSizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                                        const cudnnTensorDescriptor_t xDesc, const void* x,
                                                        const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                                        const cudnnConvolutionDescriptor_t convDesc,
                                                        cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace,
                                                        size_t workSpaceSizeInBytes, const void* beta,
                                                        const cudnnFilterDescriptor_t dwDesc, void* dw) {
    return run({"cudnnConvolutionBackwardFilter", Pass::BackwardFilter, handle, xDesc, dwDesc, convDesc, dyDesc, x, dw,
                dy},
               algo, alpha, beta, workSpace, workSpaceSizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnFilterDescriptor_t wDesc,
    const void* w, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, void* y,
    const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace,
    size_t workSpaceSizeInBytes) {
    return find<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
        {"cudnnFindConvolutionForwardAlgorithmEx", Pass::Forward, handle, xDesc, wDesc, convDesc, yDesc, x, w, y},
        requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnTensorDescriptor_t dyDesc,
    const void* dy, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, void* dx,
    const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t* perfResults,
    void* workSpace, size_t workSpaceSizeInBytes) {
    return find<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
        {"cudnnFindConvolutionBackwardDataAlgorithmEx", Pass::BackwardData, handle, dxDesc, wDesc, convDesc, dyDesc, dx,
         w, dy},
        requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t dyDesc,
    const void* y, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t dwDesc, void* dw,
    const int requestedAlgoCount, int* returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t* perfResults,
    void* workSpace, size_t workSpaceSizeInBytes) {
    return find<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
        {"cudnnFindConvolutionBackwardFilterAlgorithmEx", Pass::BackwardFilter, handle, xDesc, dwDesc, convDesc, dyDesc,
         x, dw, y},
        requestedAlgoCount, returnedAlgoCount, perfResults, workSpace, workSpaceSizeInBytes);
}

EMU_EXPORT cudnnStatus_t cudnnConvolutionBiasActivationForward(
    cudnnHandle_t handle, const void* alpha1, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionFwdAlgo_t algo, void* workSpace, size_t workSpaceSizeInBytes, const void* alpha2,
    const cudnnTensorDescriptor_t zDesc, const void* z, const cudnnTensorDescriptor_t biasDesc, const void* bias,
    const cudnnActivationDescriptor_t activationDesc, const cudnnTensorDescriptor_t yDesc, void* y) {
    const char* fn = "cudnnConvolutionBiasActivationForward";
    emu::count_call("cudnn", fn);
    if (alpha1 == nullptr || alpha2 == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, fn, "alpha1 or alpha2 is null");
    return fused({fn, Pass::Forward, handle, xDesc, wDesc, convDesc, yDesc, x, w, y}, algo,
                 *static_cast<const float*>(alpha1), *static_cast<const float*>(alpha2), zDesc, z, biasDesc, bias,
                 activationDesc, workSpace, workSpaceSizeInBytes);
}
