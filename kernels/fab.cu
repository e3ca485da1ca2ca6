// fab.cu — FAB-T's step and bookkeeping on the device (Croce & Hein 2020). CPU twins: src/AdvRobust.Cpu/
// CpuBackend.Fab.cs (Fab.Step, Fab.Accept and FabProjection in Core, which state the math in full).
//
// Math, per row (x, x0, w = ∇ₓ(z_t − z_y) rows of D pixels; f = z_t − z_y from the logits):
//   step     b = w·x − f; d₁ = P(x) − x, d₂ = P(x0) − x0 where P projects onto {w·x' = b} ∩ [0, 1]^D:
//            c = w·t − b, σ = sign(c) (+1 at 0), coordinate i moves in s_i = −σ·sign(w_i) with room_i = 1 − t_i
//            (s_i > 0) or t_i; l-inf: a_i = |w_i|, r_i = room_i, d_i = s_i·min(λ, room_i) (w_i ≠ 0);
//            l2: a_i = w_i², r_i = room_i/|w_i|, d_i = s_i·min(λ|w_i|, room_i) (|w_i| > 1e-8); λ solves
//            G(λ) = Σ a_i·min(λ, r_i) = |c|, or λ = ∞ when Σ a_i r_i ≤ |c| (every coordinate to its bound).
//            a_k = max(‖d_k‖, 1e-8); α = min(max(a₁/(a₁ + a₂), 0), α_max);
//            x ← clamp((x + η d₁)(1 − α) + (x0 + η d₂)α, 0, 1).
//   accept   pred = argmax z (lowest index on a tie); if pred ≠ y: n = ‖x − x0‖ (double); if n < best_norm:
//            best_norm = n, best = x; then x ← x0 + β(x − x0).
//   No backward: these are search steps.
// λ: the CPU walks the sorted breakpoints; here the block bisects λ on [0, max r_i] (FAB_BISECTIONS halvings of
//   G, each one block reduction over the row), then solves the linear piece at the lower end exactly: λ = λ_lo +
//   (|c| − G(λ_lo))/Σ_{r_i > λ_lo} a_i. Same solution up to rounding; d_i is recomputed from (t_i, w_i, λ), never
//   stored.
// Layout: x, x0, w, best N×D float32 contiguous; logits N×K float32; labels, targets N int32; best_norm N float64.
// Launch: one block per row, blockDim 128 (a power of two: the double tree reductions), for both kernels.
// Traffic per pixel: step reads w and x once for b, then (w, t) per bisection for both projections (2·(2 + 2·64)
//   floats, from L1/L2 for rows up to ~100 KB), and x, x0, w for the write: about 1 KB requested per pixel, 4 B
//   written — the step is latency-bound on its 2·(64 + 4) reductions, not bandwidth-bound | accept reads x, x0 (8 B)
//   and writes x and, when kept, best (8 B).
#include "common.cuh"

#define FAB_BLOCK 128
#define FAB_BISECTIONS 64
#define FAB_L2_MIN_WEIGHT 1e-8  // FabProjection.L2MinWeight
#define FAB_NO_LEVEL 1e300      // "λ = ∞": λ·|w_i| > room_i for every moving coordinate (|w_i| > 1e-8, room_i ≤ 1)

// ---- device helpers ----
struct FabSum
{
    static __device__ __forceinline__ double apply(double a, double b) { return a + b; }
};
struct FabMax
{
    static __device__ __forceinline__ double apply(double a, double b) { return a > b ? a : b; }
};

// Block reduction in double by a shared-memory tree (buf holds blockDim.x values); every thread gets the result.
template <class Op>
__device__ __forceinline__ double fab_block_reduce(double v, double* buf)
{
    __syncthreads();
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1)
    {
        if ((int)threadIdx.x < half) buf[threadIdx.x] = Op::apply(buf[threadIdx.x], buf[threadIdx.x + half]);
        __syncthreads();
    }
    return buf[0];
}

// One coordinate of the projection: whether it moves, its direction s, room, weight a and breakpoint r.
struct FabCoord
{
    bool moves;
    double s, room, a, r;
};

__device__ __forceinline__ FabCoord fab_coord(bool l2, double sigma, float t, float wf)
{
    FabCoord q;
    const double wi = wf, aw = wi < 0.0 ? -wi : wi;
    q.moves = l2 ? aw > FAB_L2_MIN_WEIGHT : wi != 0.0;
    q.s = wi > 0.0 ? -sigma : sigma;
    const double room = q.s > 0.0 ? 1.0 - t : (double)t;
    q.room = room > 0.0 ? room : 0.0;
    q.a = l2 ? wi * wi : aw;
    q.r = l2 ? q.room / aw : q.room;
    return q;
}

// d_i of one coordinate for level λ (λ may be FAB_NO_LEVEL).
__device__ __forceinline__ double fab_move(bool l2, const FabCoord& q, float wf, double lambda)
{
    if (!q.moves) return 0.0;
    const double aw = wf < 0.0f ? -(double)wf : (double)wf;
    const double want = l2 ? lambda * aw : lambda;
    return q.s * (want < q.room ? want : q.room);
}

// The level λ of the projection of row t (every thread returns it, with σ through sigma_out).
__device__ double fab_level(bool l2, const float* t, const float* w, double b, int d, double* buf,
    double& sigma_out)
{
    double c = 0.0;
    for (int k = threadIdx.x; k < d; k += blockDim.x) c += (double)w[k] * t[k];
    c = fab_block_reduce<FabSum>(c, buf) - b;
    const double sigma = c >= 0.0 ? 1.0 : -1.0, gap = c < 0.0 ? -c : c;
    sigma_out = sigma;
    double reach = 0.0, rmax = 0.0;
    for (int k = threadIdx.x; k < d; k += blockDim.x)
    {
        const FabCoord q = fab_coord(l2, sigma, t[k], w[k]);
        if (!q.moves) continue;
        reach += q.a * q.r;
        rmax = q.r > rmax ? q.r : rmax;
    }
    reach = fab_block_reduce<FabSum>(reach, buf);
    rmax = fab_block_reduce<FabMax>(rmax, buf);
    if (!(reach > gap)) return FAB_NO_LEVEL;
    double lo = 0.0, hi = rmax;
    for (int it = 0; it < FAB_BISECTIONS; it++)
    {
        const double mid = 0.5 * (lo + hi);
        double g = 0.0;
        for (int k = threadIdx.x; k < d; k += blockDim.x)
        {
            const FabCoord q = fab_coord(l2, sigma, t[k], w[k]);
            if (q.moves) g += q.a * (mid < q.r ? mid : q.r);
        }
        g = fab_block_reduce<FabSum>(g, buf);
        if (g >= gap) hi = mid;
        else lo = mid;
    }
    double g = 0.0, slope = 0.0;
    for (int k = threadIdx.x; k < d; k += blockDim.x)
    {
        const FabCoord q = fab_coord(l2, sigma, t[k], w[k]);
        if (!q.moves) continue;
        g += q.a * (lo < q.r ? lo : q.r);
        if (q.r > lo) slope += q.a;
    }
    g = fab_block_reduce<FabSum>(g, buf);
    slope = fab_block_reduce<FabSum>(slope, buf);
    return slope > 0.0 ? lo + (gap - g) / slope : lo;
}

// ‖d‖ of the projection of row t at level λ (l-inf: max |d_i|, l2: √Σ d_i²).
__device__ double fab_length(bool l2, const float* t, const float* w, double sigma, double lambda, int d,
    double* buf)
{
    double acc = 0.0;
    for (int k = threadIdx.x; k < d; k += blockDim.x)
    {
        const FabCoord q = fab_coord(l2, sigma, t[k], w[k]);
        const double m = fab_move(l2, q, w[k], lambda);
        acc = l2 ? acc + m * m : (acc > (m < 0.0 ? -m : m) ? acc : (m < 0.0 ? -m : m));
    }
    return l2 ? sqrt(fab_block_reduce<FabSum>(acc, buf)) : fab_block_reduce<FabMax>(acc, buf);
}

// ---- kernels ----
// grid = N blocks: block i owns row i. Every read of x precedes the last reduction's barriers, and the final pass
// reads and writes each element from one thread, so the in-place update is race-free.
extern "C" __global__ void fab_step_f32(float* __restrict__ x, const float* __restrict__ x0,
    const float* __restrict__ grad, const float* __restrict__ logits, const int* __restrict__ labels,
    const int* __restrict__ targets, int d, int k, int l2, float alpha_max, float eta)
{
    __shared__ double buf[FAB_BLOCK];
    const long long base = (long long)blockIdx.x * d;
    float* xs = x + base;
    const float* x0s = x0 + base;
    const float* ws = grad + base;
    const float* z = logits + (long long)blockIdx.x * k;
    const float f = z[targets[blockIdx.x]] - z[labels[blockIdx.x]];
    double b = 0.0;
    for (int e = threadIdx.x; e < d; e += blockDim.x) b += (double)ws[e] * xs[e];
    b = fab_block_reduce<FabSum>(b, buf) - (double)f;

    double sigma1, sigma2;
    const double level1 = fab_level(l2 != 0, xs, ws, b, d, buf, sigma1);
    const double level2 = fab_level(l2 != 0, x0s, ws, b, d, buf, sigma2);
    double a1 = fab_length(l2 != 0, xs, ws, sigma1, level1, d, buf);
    double a2 = fab_length(l2 != 0, x0s, ws, sigma2, level2, d, buf);
    a1 = a1 > 1e-8 ? a1 : 1e-8;
    a2 = a2 > 1e-8 ? a2 : 1e-8;
    double alpha = a1 / (a1 + a2);
    alpha = alpha > 0.0 ? alpha : 0.0;
    alpha = alpha < (double)alpha_max ? alpha : (double)alpha_max;
    const double et = eta;
    for (int e = threadIdx.x; e < d; e += blockDim.x)
    {
        const float t1 = xs[e], t0 = x0s[e], we = ws[e];
        const double d1 = fab_move(l2 != 0, fab_coord(l2 != 0, sigma1, t1, we), we, level1);
        const double d2 = fab_move(l2 != 0, fab_coord(l2 != 0, sigma2, t0, we), we, level2);
        const double v = (t1 + et * d1) * (1.0 - alpha) + (t0 + et * d2) * alpha;
        xs[e] = (float)(v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v));
    }
}

// grid = N blocks: block i owns row i; the branch on the prediction is uniform over the block.
extern "C" __global__ void fab_accept_f32(float* __restrict__ x, const float* __restrict__ x0,
    const float* __restrict__ logits, const int* __restrict__ labels, float* __restrict__ best,
    double* __restrict__ best_norm, int d, int k, int l2, float beta)
{
    __shared__ double buf[FAB_BLOCK];
    const float* z = logits + (long long)blockIdx.x * k;
    int pred = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[pred]) pred = j;
    if (pred == labels[blockIdx.x]) return;
    const long long base = (long long)blockIdx.x * d;
    float* xs = x + base;
    const float* x0s = x0 + base;
    double acc = 0.0;
    for (int e = threadIdx.x; e < d; e += blockDim.x)
    {
        const double diff = (double)xs[e] - x0s[e], a = diff < 0.0 ? -diff : diff;
        acc = l2 ? acc + diff * diff : (acc > a ? acc : a);
    }
    const double norm = l2 ? sqrt(fab_block_reduce<FabSum>(acc, buf)) : fab_block_reduce<FabMax>(acc, buf);
    const double old = best_norm[blockIdx.x];
    __syncthreads();  // every thread has read best_norm before thread 0 may write it
    const bool keep = norm < old;
    if (keep && threadIdx.x == 0) best_norm[blockIdx.x] = norm;
    for (int e = threadIdx.x; e < d; e += blockDim.x)
    {
        const float v = xs[e];
        if (keep) best[base + e] = v;
        xs[e] = x0s[e] + (v - x0s[e]) * beta;
    }
}
