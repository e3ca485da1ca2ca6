// common.cuh — helpers shared by every kernel family: constants, 1-D indexing, warp/block reductions (sum, max,
// min, and (value, index) argmin/argmax with lowest-index tie-break), and the distance-from-dot rule shared by
// distance.cu and triplet.cu.
//
// Device code only. Included by name ("common.cuh"); NVRTC receives it as a named header, so it includes nothing
// itself. Everything here is valid for nvcc, NVRTC and the clang syntax gate (which adds compat.h).
//
// Reduction contract: warp_* helpers shuffle with the full mask, so all 32 lanes of the warp must call them
// together; block_* helpers also contain __syncthreads(), so every thread of the block must call them, blockDim.x
// must be a multiple of 32 (at most 1024), and scratch arrays must hold at least 32 entries.
#ifndef AR_COMMON_CUH
#define AR_COMMON_CUH

// ---- constants ----
#define AR_WARP_SIZE 32
#define AR_FULL_MASK 0xffffffffu
#define AR_NORM_EPS 1e-8f  // |u|e = max(|u|, AR_NORM_EPS), see DistanceKind in src/AdvRobust.Core/OpKinds.cs

// +infinity without INFINITY (NVRTC has no <math.h>).
__device__ __forceinline__ float ar_inf() { return __int_as_float(0x7f800000); }

// DistanceKind codes: the C# enum order.
enum { DIST_SQ = 0, DIST_L2 = 1, DIST_COS = 2, DIST_ANGULAR = 3 };

// ---- indexing ----
__device__ __forceinline__ long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

// Grid-stride loop bounds: for (long long i = grid_start(); i < n; i += grid_stride()).
__device__ __forceinline__ long long grid_start() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ long long grid_stride() { return (long long)gridDim.x * blockDim.x; }

// q = e / d, r = e % d for e >= 0, d > 0, using 32-bit division whenever e fits (64-bit division is a long
// software sequence on the GPU).
__device__ __forceinline__ void divmod_ll(long long e, int d, long long& q, int& r)
{
    if (e <= 0xffffffffLL)
    {
        unsigned int uq = (unsigned int)e / (unsigned int)d;
        q = uq;
        r = (int)((unsigned int)e - uq * (unsigned int)d);
    }
    else
    {
        q = e / d;
        r = (int)(e - q * d);
    }
}

// sign(0) = 0 (and sign(NaN) = 0).
__device__ __forceinline__ float sign_f(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }

// Math.Clamp semantics: NaN passes through; lo <= hi is checked by the host.
__device__ __forceinline__ float clamp_f(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

// ---- reduction operators (Max/Min propagate NaN, like the CPU reference) ----
struct SumOp
{
    static __device__ __forceinline__ float apply(float a, float b) { return a + b; }
};
struct MaxOp
{
    static __device__ __forceinline__ float apply(float a, float b) { return (a > b || a != a) ? a : b; }
};
struct MinOp
{
    static __device__ __forceinline__ float apply(float a, float b) { return (a < b || a != a) ? a : b; }
};

// ---- warp and block reductions ----
// Butterfly: every lane ends with the same result.
template <class Op>
__device__ __forceinline__ float warp_reduce(float v)
{
    for (int offset = AR_WARP_SIZE / 2; offset > 0; offset >>= 1)
        v = Op::apply(v, __shfl_xor_sync(AR_FULL_MASK, v, offset));
    return v;
}

__device__ __forceinline__ float warp_sum(float v) { return warp_reduce<SumOp>(v); }

// Returns the block-wide result to every thread. The leading barrier lets calls follow each other on one scratch.
template <class Op>
__device__ __forceinline__ float block_reduce(float v, float identity, float* scratch)
{
    const int lane = threadIdx.x & (AR_WARP_SIZE - 1), warp = threadIdx.x / AR_WARP_SIZE;
    const int warps = blockDim.x / AR_WARP_SIZE;
    v = warp_reduce<Op>(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : identity;
    return warp_reduce<Op>(v);
}

__device__ __forceinline__ float block_sum(float v, float* scratch) { return block_reduce<SumOp>(v, 0.0f, scratch); }

// ---- (value, index) argmin / argmax ----
// Index -1 means "no candidate" and loses to every candidate. Otherwise the better value wins and equal values go
// to the lower index, so the result does not depend on the order in which partial results are combined.
template <bool IsMax>
__device__ __forceinline__ bool arg_better(float v, int i, float best_v, int best_i)
{
    if (i < 0) return false;
    if (best_i < 0) return true;
    if (IsMax ? v > best_v : v < best_v) return true;
    return v == best_v && i < best_i;
}

// Reduces within aligned groups of `lanes` lanes (a power of two, 2..32); every lane of a group gets the group's
// best. All 32 lanes must call it (full-mask shuffles).
template <bool IsMax>
__device__ __forceinline__ void warp_arg_reduce(float& v, int& i, int lanes)
{
    for (int offset = lanes / 2; offset > 0; offset >>= 1)
    {
        float other_v = __shfl_xor_sync(AR_FULL_MASK, v, offset);
        int other_i = __shfl_xor_sync(AR_FULL_MASK, i, offset);
        if (arg_better<IsMax>(other_v, other_i, v, i))
        {
            v = other_v;
            i = other_i;
        }
    }
}

// Block-wide best to every thread; scratch_v and scratch_i hold at least 32 entries each.
template <bool IsMax>
__device__ __forceinline__ void block_arg_reduce(float& v, int& i, float* scratch_v, int* scratch_i)
{
    const int lane = threadIdx.x & (AR_WARP_SIZE - 1), warp = threadIdx.x / AR_WARP_SIZE;
    const int warps = blockDim.x / AR_WARP_SIZE;
    warp_arg_reduce<IsMax>(v, i, AR_WARP_SIZE);
    __syncthreads();
    if (lane == 0)
    {
        scratch_v[warp] = v;
        scratch_i[warp] = i;
    }
    __syncthreads();
    v = lane < warps ? scratch_v[lane] : 0.0f;
    i = lane < warps ? scratch_i[lane] : -1;
    warp_arg_reduce<IsMax>(v, i, AR_WARP_SIZE);
}

// ---- distances from a dot product (DistanceKind; norms clamped at AR_NORM_EPS) ----
__device__ __forceinline__ float clamped_norm(float norm2) { return fmaxf(sqrtf(norm2), AR_NORM_EPS); }

// sq = max(|a|^2 + |b|^2 - 2 a.b, 0); L2 = sqrt(sq); cos = a.b / (|a|e |b|e); angular = 1 - |cos|.
__device__ __forceinline__ float distance_from_dot(float dot, float na2, float nb2, int kind)
{
    if (kind == DIST_SQ || kind == DIST_L2)
    {
        float sq = fmaxf(na2 + nb2 - 2.0f * dot, 0.0f);
        return kind == DIST_SQ ? sq : sqrtf(sq);
    }
    float c = dot / (clamped_norm(na2) * clamped_norm(nb2));
    return kind == DIST_COS ? c : 1.0f - fabsf(c);
}

#endif // AR_COMMON_CUH
