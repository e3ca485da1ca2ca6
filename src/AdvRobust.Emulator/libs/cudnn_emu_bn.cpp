// libadvrobust-emu-cudnn.so, part 3: batch normalization in training mode (cudnn_ops.h 9.14).
//
// A feature f is a channel (SPATIAL, SPATIAL_PERSISTENT: statistics over N×H×W) or a (c, h, w) position
// (PER_ACTIVATION: statistics over N); L elements per feature. Forward:
//   mean_f = Σx/L, var_f = Σ(x − mean_f)²/L (biased), invstd_f = 1/√(var_f + ε),
//   y = alpha·(γ_f·(x − mean_f)·invstd_f + β_f) + beta·y,
//   running_mean ← (1 − m)·running_mean + m·mean_f, running_var ← (1 − m)·running_var + m·var_f·L/(L − 1)
//   (the unbiased variance; L = 1 uses var_f), m = exponentialAverageFactor; saved mean and invstd are written.
// Backward, with x̂ = (x − mean_f)·invstd_f (saved values, or recomputed from x and ε when both are null):
//   dβ_f = Σdy, dγ_f = Σdy·x̂, dx = γ_f·invstd_f·(dy − dβ_f/L − x̂·dγ_f/L),
//   dx ← alphaDataDiff·dx + betaDataDiff·dx_old, dγ, dβ ← alphaParamDiff·(…) + betaParamDiff·old.
// Sums in double. beta = 0 never reads the destination. Float data only (NOT_SUPPORTED_DATA_TYPE otherwise).
// BAD_PARAM: a null x/y/scale/bias, x and y (or dy, dx) of different sizes, a scale descriptor that is not 1×C×1×1
// (spatial) or 1×C×H×W (per activation), exactly one of the running (or saved) pointers null, ε < CUDNN_BN_MIN_EPSILON.
#include <cmath>
#include <vector>

#include "cudnn_emu.h"

using namespace cudnn_emu;

namespace {

struct Bn {
    const char* fn;
    const cudnnTensorStruct* x;
    const cudnnTensorStruct* p;  // the per-feature parameters' descriptor
    bool spatial;
    int features() const { return spatial ? x->c : x->c * x->h * x->w; }
    int per_feature() const { return spatial ? x->n * x->h * x->w : x->n; }
    int feature(int c, int h, int w) const { return spatial ? c : (c * x->h + h) * x->w + w; }
    long long param(int f) const {
        return spatial ? p->offset(0, f, 0, 0) : p->offset(0, f / (x->h * x->w), f / x->w % x->h, f % x->w);
    }
};

bool same_dims(const cudnnTensorStruct* a, const cudnnTensorStruct* b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

cudnnStatus_t validate(const char* fn, cudnnHandle_t handle, cudnnBatchNormMode_t mode, const cudnnTensorStruct* x,
                       const cudnnTensorStruct* y, const cudnnTensorStruct* p, double epsilon, Bn* out) {
    if (!is_live(handle, Kind::Handle)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "not a live cuDNN handle");
    if (mode != CUDNN_BATCHNORM_PER_ACTIVATION && mode != CUDNN_BATCHNORM_SPATIAL &&
        mode != CUDNN_BATCHNORM_SPATIAL_PERSISTENT)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "invalid mode %d", (int)mode);
    for (const cudnnTensorStruct* d : {x, y, p})
        if (!is_live(d, Kind::Tensor) || !d->set) return fail(CUDNN_STATUS_BAD_PARAM, fn, "a tensor descriptor is not set");
    if (!same_dims(x, y)) return fail(CUDNN_STATUS_BAD_PARAM, fn, "x and y (or dy, dx) have different dimensions");
    bool spatial = mode != CUDNN_BATCHNORM_PER_ACTIVATION;
    if (p->n != 1 || p->c != x->c || p->h != (spatial ? 1 : x->h) || p->w != (spatial ? 1 : x->w))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "the scale/bias/mean/var descriptor is %d×%d×%d×%d, not 1×%d×%d×%d",
                    p->n, p->c, p->h, p->w, x->c, spatial ? 1 : x->h, spatial ? 1 : x->w);
    if (x->type != CUDNN_DATA_FLOAT || y->type != CUDNN_DATA_FLOAT || p->type != CUDNN_DATA_FLOAT)
        return fail(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE, fn, "the emulator runs float batch norm only");
    if (!(epsilon >= CUDNN_EMU_BN_MIN_EPSILON))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "epsilon %g is below CUDNN_BN_MIN_EPSILON", epsilon);
    *out = {fn, x, p, spatial};
    return CUDNN_STATUS_SUCCESS;
}

inline void blend(float* out, double value, float alpha, float beta) {
    *out = beta == 0.0f ? (float)(alpha * value) : (float)(alpha * value + (double)beta * *out);
}

// Per-feature mean and biased variance of x.
void moments(const Bn& b, const float* x, std::vector<double>& mean, std::vector<double>& var) {
    const cudnnTensorStruct& d = *b.x;
    mean.assign(b.features(), 0.0);
    var.assign(b.features(), 0.0);
    for (int n = 0; n < d.n; n++)
        for (int c = 0; c < d.c; c++)
            for (int h = 0; h < d.h; h++)
                for (int w = 0; w < d.w; w++) mean[b.feature(c, h, w)] += x[d.offset(n, c, h, w)];
    for (double& m : mean) m /= b.per_feature();
    for (int n = 0; n < d.n; n++)
        for (int c = 0; c < d.c; c++)
            for (int h = 0; h < d.h; h++)
                for (int w = 0; w < d.w; w++) {
                    double e = x[d.offset(n, c, h, w)] - mean[b.feature(c, h, w)];
                    var[b.feature(c, h, w)] += e * e;
                }
    for (double& v : var) v /= b.per_feature();
}

cudnnStatus_t check_params(const Bn& b, std::initializer_list<std::pair<const void*, const char*>> ptrs) {
    size_t bytes = b.p->bytes();
    for (auto& [p, name] : ptrs)
        if (p != nullptr) {
            cudnnStatus_t s = check(p, bytes, b.fn, name);
            if (s != CUDNN_STATUS_SUCCESS) return s;
        }
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace

EMU_EXPORT cudnnStatus_t cudnnBatchNormalizationForwardTraining(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
    const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc, void* y,
    const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void* bnScale, const void* bnBias,
    double exponentialAverageFactor, void* resultRunningMean, void* resultRunningVariance, double epsilon,
    void* resultSaveMean, void* resultSaveInvVariance) {
    const char* fn = "cudnnBatchNormalizationForwardTraining";
    emu::count_call("cudnn", fn);
    Bn b{};
    const bool spatial = mode != CUDNN_BATCHNORM_PER_ACTIVATION;
    cudnnStatus_t s = validate(fn, handle, mode, xDesc, yDesc, bnScaleBiasMeanVarDesc, epsilon, &b);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (alpha == nullptr || beta == nullptr || x == nullptr || y == nullptr || bnScale == nullptr || bnBias == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "alpha, beta, x, y, bnScale or bnBias is null");
    if ((resultRunningMean == nullptr) != (resultRunningVariance == nullptr))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "exactly one of resultRunningMean, resultRunningVariance is null");
    if ((resultSaveMean == nullptr) != (resultSaveInvVariance == nullptr))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "exactly one of resultSaveMean, resultSaveInvVariance is null");
    if ((s = check(x, xDesc->bytes(), fn, "x")) != CUDNN_STATUS_SUCCESS ||
        (s = check(y, yDesc->bytes(), fn, "y")) != CUDNN_STATUS_SUCCESS ||
        (s = check_params(b, {{bnScale, "bnScale"}, {bnBias, "bnBias"}, {resultRunningMean, "resultRunningMean"},
                              {resultRunningVariance, "resultRunningVariance"}, {resultSaveMean, "resultSaveMean"},
                              {resultSaveInvVariance, "resultSaveInvVariance"}})) != CUDNN_STATUS_SUCCESS)
        return s;
    // Host scalars: read now, as cuDNN does when it enqueues the work.
    const float a = *static_cast<const float*>(alpha), bt = *static_cast<const float*>(beta);
    // Recordable into a graph: the work holds copies of the descriptors and scalars.
    auto work = [=, xd = *xDesc, yd = *yDesc, pd = *bnScaleBiasMeanVarDesc]() {
        const cudnnTensorStruct* xDesc = &xd;
        const cudnnTensorStruct* yDesc = &yd;
        const Bn b{fn, &xd, &pd, spatial};
        auto xs = static_cast<const float*>(x);
        auto ys = static_cast<float*>(y);
        auto scale = static_cast<const float*>(bnScale), bias = static_cast<const float*>(bnBias);
        std::vector<double> mean, var;
        moments(b, xs, mean, var);
        const cudnnTensorStruct& d = *xDesc;
        for (int n = 0; n < d.n; n++)
            for (int c = 0; c < d.c; c++)
                for (int h = 0; h < d.h; h++)
                    for (int w = 0; w < d.w; w++) {
                        int f = b.feature(c, h, w);
                        double inv = 1.0 / std::sqrt(var[f] + epsilon);
                        double v = scale[b.param(f)] * (xs[d.offset(n, c, h, w)] - mean[f]) * inv + bias[b.param(f)];
                        blend(&ys[yDesc->offset(n, c, h, w)], v, a, bt);
                    }
        emu::mark_written(y, yDesc->bytes());
        const double m = exponentialAverageFactor, L = b.per_feature();
        for (int f = 0; f < b.features(); f++) {
            long long o = b.param(f);
            if (resultRunningMean != nullptr) {
                auto rm = static_cast<float*>(resultRunningMean), rv = static_cast<float*>(resultRunningVariance);
                double unbiased = L > 1 ? var[f] * L / (L - 1) : var[f];
                rm[o] = (float)((1.0 - m) * rm[o] + m * mean[f]);
                rv[o] = (float)((1.0 - m) * rv[o] + m * unbiased);
            }
            if (resultSaveMean != nullptr) {
                static_cast<float*>(resultSaveMean)[o] = (float)mean[f];
                static_cast<float*>(resultSaveInvVariance)[o] = (float)(1.0 / std::sqrt(var[f] + epsilon));
            }
        }
        for (void* p : {resultRunningMean, resultRunningVariance, resultSaveMean, resultSaveInvVariance})
            emu::mark_written(p, b.p->bytes());
        return (int)CUDNN_STATUS_SUCCESS;
    };
    if (emu::submit(handle->stream, "cudnn", fn, work) == emu::CaptureInvalidated)
        return fail(CUDNN_STATUS_EXECUTION_FAILED, fn, "the stream's graph capture was invalidated");
    return CUDNN_STATUS_SUCCESS;
}

EMU_EXPORT cudnnStatus_t cudnnBatchNormalizationBackward(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alphaDataDiff, const void* betaDataDiff,
    const void* alphaParamDiff, const void* betaParamDiff, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnTensorDescriptor_t dxDesc, void* dx,
    const cudnnTensorDescriptor_t dBnScaleBiasDesc, const void* bnScale, void* dBnScaleResult, void* dBnBiasResult,
    double epsilon, const void* savedMean, const void* savedInvVariance) {
    const char* fn = "cudnnBatchNormalizationBackward";
    emu::count_call("cudnn", fn);
    Bn b{};
    const bool spatial = mode != CUDNN_BATCHNORM_PER_ACTIVATION;
    cudnnStatus_t s = validate(fn, handle, mode, xDesc, dxDesc, dBnScaleBiasDesc, epsilon, &b);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    if (!is_live(dyDesc, Kind::Tensor) || !dyDesc->set || !same_dims(xDesc, dyDesc) || dyDesc->type != CUDNN_DATA_FLOAT)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "dy's descriptor does not match x");
    if (alphaDataDiff == nullptr || betaDataDiff == nullptr || alphaParamDiff == nullptr || betaParamDiff == nullptr ||
        x == nullptr || dy == nullptr || dx == nullptr || bnScale == nullptr || dBnScaleResult == nullptr ||
        dBnBiasResult == nullptr)
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "a scaling factor or data pointer is null");
    if ((savedMean == nullptr) != (savedInvVariance == nullptr))
        return fail(CUDNN_STATUS_BAD_PARAM, fn, "exactly one of savedMean, savedInvVariance is null");
    if ((s = check(x, xDesc->bytes(), fn, "x")) != CUDNN_STATUS_SUCCESS ||
        (s = check(dy, dyDesc->bytes(), fn, "dy")) != CUDNN_STATUS_SUCCESS ||
        (s = check(dx, dxDesc->bytes(), fn, "dx")) != CUDNN_STATUS_SUCCESS ||
        (s = check_params(b, {{bnScale, "bnScale"}, {dBnScaleResult, "dBnScaleResult"}, {dBnBiasResult, "dBnBiasResult"},
                              {savedMean, "savedMean"}, {savedInvVariance, "savedInvVariance"}})) != CUDNN_STATUS_SUCCESS)
        return s;
    // Host scalars: read now, as cuDNN does when it enqueues the work.
    const float ad = *static_cast<const float*>(alphaDataDiff), bd = *static_cast<const float*>(betaDataDiff);
    const float ap = *static_cast<const float*>(alphaParamDiff), bp = *static_cast<const float*>(betaParamDiff);
    // Recordable into a graph: the work holds copies of the descriptors and scalars.
    auto work = [=, xd = *xDesc, dyd = *dyDesc, dxd = *dxDesc, pd = *dBnScaleBiasDesc]() {
        const cudnnTensorStruct* xDesc = &xd;
        const cudnnTensorStruct* dyDesc = &dyd;
        const cudnnTensorStruct* dxDesc = &dxd;
        const Bn b{fn, &xd, &pd, spatial};
        auto xs = static_cast<const float*>(x), dys = static_cast<const float*>(dy);
        auto scale = static_cast<const float*>(bnScale);
        std::vector<double> mean, inv;
        if (savedMean != nullptr) {
            mean.resize(b.features());
            inv.resize(b.features());
            for (int f = 0; f < b.features(); f++) {
                mean[f] = static_cast<const float*>(savedMean)[b.param(f)];
                inv[f] = static_cast<const float*>(savedInvVariance)[b.param(f)];
            }
        } else {
            moments(b, xs, mean, inv);
            for (double& v : inv) v = 1.0 / std::sqrt(v + epsilon);
        }
        const cudnnTensorStruct& d = *xDesc;
        std::vector<double> dbias(b.features(), 0.0), dscale(b.features(), 0.0);
        for (int n = 0; n < d.n; n++)
            for (int c = 0; c < d.c; c++)
                for (int h = 0; h < d.h; h++)
                    for (int w = 0; w < d.w; w++) {
                        int f = b.feature(c, h, w);
                        double g = dys[dyDesc->offset(n, c, h, w)];
                        dbias[f] += g;
                        dscale[f] += g * (xs[d.offset(n, c, h, w)] - mean[f]) * inv[f];
                    }
        const double L = b.per_feature();
        for (int n = 0; n < d.n; n++)
            for (int c = 0; c < d.c; c++)
                for (int h = 0; h < d.h; h++)
                    for (int w = 0; w < d.w; w++) {
                        int f = b.feature(c, h, w);
                        double xhat = (xs[d.offset(n, c, h, w)] - mean[f]) * inv[f];
                        double g = dys[dyDesc->offset(n, c, h, w)];
                        double v = scale[b.param(f)] * inv[f] * (g - dbias[f] / L - xhat * dscale[f] / L);
                        blend(&static_cast<float*>(dx)[dxDesc->offset(n, c, h, w)], v, ad, bd);
                    }
        emu::mark_written(dx, dxDesc->bytes());
        for (int f = 0; f < b.features(); f++) {
            blend(&static_cast<float*>(dBnScaleResult)[b.param(f)], dscale[f], ap, bp);
            blend(&static_cast<float*>(dBnBiasResult)[b.param(f)], dbias[f], ap, bp);
        }
        emu::mark_written(dBnScaleResult, b.p->bytes());
        emu::mark_written(dBnBiasResult, b.p->bytes());
        return (int)CUDNN_STATUS_SUCCESS;
    };
    if (emu::submit(handle->stream, "cudnn", fn, work) == emu::CaptureInvalidated)
        return fail(CUDNN_STATUS_EXECUTION_FAILED, fn, "the stream's graph capture was invalidated");
    return CUDNN_STATUS_SUCCESS;
}
