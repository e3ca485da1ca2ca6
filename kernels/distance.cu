// distance.cu — the elementwise parts of pairwise distances; the host does the GEMMs with cuBLAS.
//
// Layout: A N×D, B M×D row-major float32; dist, dot, G, W, P are N×M row-major; na2 = |a_i|² (N), nb2 = |b_j|² (M)
// from reduce_rows SumSquares. |u|e = max(|u|, 1e-8). Kinds (DistanceKind): 0 sq, 1 L2, 2 cos, 3 angular.
// Math, forward (host: dot = A·Bᵀ, then distance_epilogue in place):
//   sq = max(na2 + nb2 − 2·dot, 0) | L2 = √sq | cos c = dot/(|a|e|b|e) | angular = 1 − |c|
// Math, backward, G = dL/dDist (host: w = A·Bᵀ again, weights, GEMMs W·B and Wᵀ·A, row/column sums of P, finish):
//   sq: W = 2G, P = W | L2: W = G/d (0 where d = 0), P = W
//   cos: G' = G | angular: G' = −sign(c)·G; then W = G'/(|a|e|b|e), P = G'·c
//   dA = A∘rowsum(P) − W·B and dB = B∘colsum(P) − Wᵀ·A          (sq, L2: Σ_j W_ij (a_i − b_j))
//   dA = W·B − A∘[|a|>1e-8]∘rowsum(P)/|a|e² (and symmetric for B)  (cos, angular: ∂c/∂a = b/(|a|e|b|e) − c·a/|a|e²)
// Launch: all 1-D, blockDim 256, grid = min(ceil_div(elements, 256), 65536), grid-stride over N·M (epilogue,
//   weights) or rows·D (finish); element e is (e / cols, e % cols), 64-bit because N·M can pass 2^31.
// Traffic per element: epilogue reads 1 float (+ na2[i], nb2[j]) and writes 1 = 8 B | weights reads 2, writes 2 =
//   16 B | finish reads 2, writes 1 = 12 B.
#include "common.cuh"

// ---- device helpers ----
// dL/d(dot) factor G' for the cosine family; c is the cosine.
__device__ __forceinline__ float cosine_grad(float g, float c, int kind)
{
    return kind == DIST_ANGULAR ? -sign_f(c) * g : g;
}

// ---- kernels ----
// dot and out may be the same buffer (in place): each element is read, then written, by one thread.
extern "C" __global__ void distance_epilogue_f32(const float* dot, const float* __restrict__ na2,
    const float* __restrict__ nb2, float* out, int n, int m, int kind)
{
    const long long total = (long long)n * m;
    for (long long e = grid_start(); e < total; e += grid_stride())
    {
        long long i;
        int j;
        divmod_ll(e, m, i, j);
        out[e] = distance_from_dot(dot[e], na2[i], nb2[j], kind);
    }
}

// w holds A·Bᵀ on entry and W on exit; p receives P.
extern "C" __global__ void distance_backward_weights_f32(const float* __restrict__ grad, float* __restrict__ w,
    float* __restrict__ p, const float* __restrict__ na2, const float* __restrict__ nb2, int n, int m, int kind)
{
    const long long total = (long long)n * m;
    for (long long e = grid_start(); e < total; e += grid_stride())
    {
        long long i;
        int j;
        divmod_ll(e, m, i, j);
        const float g = grad[e], dot = w[e], a2 = na2[i], b2 = nb2[j];
        float weight, pv;
        if (kind == DIST_SQ)
        {
            weight = 2.0f * g;
            pv = weight;
        }
        else if (kind == DIST_L2)
        {
            const float d = sqrtf(fmaxf(a2 + b2 - 2.0f * dot, 0.0f));
            weight = d > 0.0f ? g / d : 0.0f;
            pv = weight;
        }
        else
        {
            const float inv = 1.0f / (clamped_norm(a2) * clamped_norm(b2));
            const float c = dot * inv;
            const float gc = cosine_grad(g, c, kind);
            weight = gc * inv;
            pv = gc * c;
        }
        w[e] = weight;
        p[e] = pv;
    }
}

// grad_x (rows×d) holds W·B (for A) or Wᵀ·A (for B) on entry; sum_p holds the row (or column) sums of P; x is A
// (or B) and nx2 its squared row norms.
extern "C" __global__ void distance_backward_finish_f32(float* __restrict__ grad_x, const float* __restrict__ x,
    const float* __restrict__ sum_p, const float* __restrict__ nx2, int rows, int d, int kind)
{
    const long long total = (long long)rows * d;
    for (long long e = grid_start(); e < total; e += grid_stride())
    {
        long long r;
        int k;
        divmod_ll(e, d, r, k);
        if (kind == DIST_SQ || kind == DIST_L2)
        {
            grad_x[e] = x[e] * sum_p[r] - grad_x[e];
        }
        else
        {
            const float norm = sqrtf(nx2[r]);
            const float ne = fmaxf(norm, AR_NORM_EPS);
            const float radial = norm > AR_NORM_EPS ? x[e] * sum_p[r] / (ne * ne) : 0.0f;
            grad_x[e] = grad_x[e] - radial;
        }
    }
}
