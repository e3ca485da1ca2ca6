// The convolution arithmetic of the cuDNN stand-in, one function per (pass, algorithm family), all on validated
// geometry (cudnn_emu.h). Each writes out = alpha·result + beta·out and never reads `out` when beta = 0.
// `tf32` rounds both inputs of every product to TF32 (a tensor-op algorithm under a math type that allows it).
#pragma once
#include "cudnn_emu.h"

namespace cudnn_emu {

struct ConvArgs {
    const Geometry* g;
    const cudnnTensorStruct* xd;  // x (forward, backward filter) or dx (backward data)
    const cudnnFilterStruct* wd;
    const cudnnTensorStruct* yd;  // y (forward) or dy (backward)
    float alpha, beta;
    bool tf32;
    void* workspace;
};

// Forward, y = x ⋆ w. Direct loops (IMPLICIT_GEMM, no workspace); a precomputed tap table in the workspace
// (IMPLICIT_PRECOMP_GEMM, 16 bytes per tap); im2col of one (image, group) into the workspace, then a GEMM (GEMM).
void forward_direct(const ConvArgs& a, const float* x, const float* w, float* y);
void forward_precomp(const ConvArgs& a, const float* x, const float* w, float* y);
void forward_gemm(const ConvArgs& a, const float* x, const float* w, float* y);
size_t precomp_workspace(const Geometry& g);
size_t column_workspace(const Geometry& g);  // Cg·R·S × P·Q floats: one (image, group) column matrix

// Backward data, dx = dy ⋆ᵀ w. ALGO_0 scatters in float in an order that changes from call to call, as atomics do
// (non-deterministic); ALGO_1 builds the column matrix Wᵀ·dy in the workspace and folds it back in a fixed order.
void backward_data_scatter(const ConvArgs& a, const float* w, const float* dy, float* dx);
void backward_data_columns(const ConvArgs& a, const float* w, const float* dy, float* dx);

// Backward filter, dw = x ⋆ᵀ dy. ALGO_0 accumulates in float over images in a rotating order (non-deterministic);
// ALGO_1 forms each image's column matrix in the workspace and accumulates dy·colᵀ in double (deterministic).
void backward_filter_scatter(const ConvArgs& a, const float* x, const float* dy, float* dw);
void backward_filter_columns(const ConvArgs& a, const float* x, const float* dy, float* dw);

}  // namespace cudnn_emu
