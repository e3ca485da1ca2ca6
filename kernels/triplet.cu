// triplet.cu — fused distance + triplet mining over a pool, and the triplet margin loss forward/backward.
//
// Layout: anchors A N×D with labels ya (N), pool P M×D with labels yp (M), row-major float32 / int32; na2 = |a_i|²,
// np2 = |p_j|² (reduce_rows SumSquares). Distances d(i,j) from the dot product exactly as distance_epilogue_f32
// (kinds 0 sq, 1 L2, 2 cos, 3 angular; |u|e = max(|u|, 1e-8)).
// Math, mining (outputs int32/float32 [N]; "none" = index -1, distance 0; ties go to the lowest pool index):
//   mode 0 BatchHard: pos = argmax_j d(i,j) over yp_j == ya_i (j != i if exclude_self); neg = argmin over yp_j != ya_i
//   mode 1 SemiHard negative: reads pos_dist as d_ap (from a mode-0 launch), writes neg only:
//     neg = argmin { d(i,j) : yp_j != ya_i, d(i,j) > d_ap }, or if that set is empty argmax over yp_j != ya_i
//   No backward: mining is a selection; the loss below is differentiated instead.
// Math, loss (row-aligned A, P, Q N×D; a row distance is computed directly, not from norms):
//   loss_i = max(0, d(a_i,p_i) − d(a_i,q_i) + margin)
//   where loss_i > 0: ga = gl(∂d_ap/∂a − ∂d_an/∂a), gp = gl ∂d_ap/∂p, gq = −gl ∂d_an/∂q; elsewhere 0, with
//   sq ∂d/∂a = 2(a−b) | L2 (a−b)/d (0 at d = 0) | cos b/(|a|e|b|e) − c·a·[|a|>1e-8]/|a|e² | angular −sign(c)·cos rule,
//   and ∂d/∂b the same with a and b swapped (sq, L2: −∂d/∂a).
// Launch:
//   triplet_mine_f32: grid = ceil_div(N, TRIPLET_TILE_N), blockDim TRIPLET_THREADS (exactly). Each block keeps its
//     TRIPLET_TILE_N anchors and sweeps the pool in TRIPLET_TILE_M-row tiles; dot products go through shared-memory
//     chunks of TRIPLET_TILE_K features (16×16 threads, 4×4 anchor×pool pairs per thread in registers); each thread
//     keeps a running (value, index) per anchor, merged across the 16 threads of an anchor row by warp shuffles.
//     The N×M matrix is never stored. Shared memory: 2·16·65 floats = 8,320 B.
//   triplet_loss_forward_f32 / triplet_loss_backward_f32: one warp per row, blockDim TRIPLET_LOSS_THREADS (8 rows per
//     block), grid = min(ceil_div(N, 8), 65536) (grid-stride over rows).
// Traffic: mining re-reads the block's anchor chunk for every pool tile and each pool tile for every anchor block,
//   (ceil(M/64)·N·D + ceil(N/64)·M·D)·4 B requested from L2/DRAM, plus 8 B of label and norm per pool row per
//   tile, and writes 16 B per anchor, for 2·N·M·D flops: at N = M = 65,536, D = 512 that is 4.4e12 flops
//   against 2.7e11 B requested, 16 flop/B.
//   Loss forward reads 3 floats per element = 12 B; backward reads 3 floats twice (the second pass re-reads the
//   warp's rows) and writes 3 = 36 B requested.
#include "common.cuh"

// ---- constants (the host launcher uses these) ----
#define TRIPLET_TILE_N 64         // anchors per block
#define TRIPLET_TILE_M 64         // pool rows per sweep step
#define TRIPLET_TILE_K 16         // features per shared-memory chunk
#define TRIPLET_THREADS 256       // threads per mining block: 16 × 16, each 4 anchors × 4 pool rows
#define TRIPLET_LOSS_THREADS 256  // threads per loss block: 8 warps, one row each
#define TRIPLET_GROUP 16          // threads sharing one anchor row (one half-warp)
#define TRIPLET_PER_THREAD 4      // TRIPLET_TILE_N / 16 anchors and TRIPLET_TILE_M / 16 pool rows per thread

static_assert(TRIPLET_TILE_N == TRIPLET_TILE_M, "anchor and pool tiles share one shared-memory layout");
static_assert(TRIPLET_TILE_K == TRIPLET_GROUP, "load_tile maps the 16 threads of a row onto the 16 features");
static_assert(TRIPLET_THREADS == TRIPLET_GROUP * TRIPLET_GROUP, "16 x 16 threads");
static_assert(TRIPLET_TILE_N == TRIPLET_GROUP * TRIPLET_PER_THREAD, "4 anchors and 4 pool rows per thread");

// ---- device helpers: mining ----
// A shared-memory chunk: TRIPLET_TILE_K features × 64 rows, padded to 65 columns so that the transposing stores
// conflict at most 2-way.
typedef float (*Tile)[TRIPLET_TILE_N + 1];

// tile[k][row] = src[row0 + row][k0 + k], zero outside the matrix. Threads read 16 consecutive features of a row.
__device__ __forceinline__ void load_tile(const float* __restrict__ src, int rows, int d, int row0, int k0, Tile tile,
    int tx, int ty)
{
#pragma unroll
    for (int q = 0; q < TRIPLET_PER_THREAD; ++q)
    {
        const int row = ty + TRIPLET_GROUP * q, k = k0 + tx;
        tile[tx][row] = (row0 + row < rows && k < d) ? src[(long long)(row0 + row) * d + k] : 0.0f;
    }
}

// One block: anchors i0 .. i0+63 against the whole pool. Thread (tx, ty) = (tid % 16, tid / 16) owns anchors
// i0 + ty + 16r and pool rows j0 + tx + 16c, r, c in 0..3. Strided ownership keeps the shared-memory reads
// conflict-free (pool reads hit 16 consecutive words; anchor reads are broadcasts).
template <int Mode>
__device__ __forceinline__ void mine(const float* __restrict__ a, const int* __restrict__ ya,
    const float* __restrict__ p, const int* __restrict__ yp, const float* __restrict__ na2,
    const float* __restrict__ np2, int n, int m, int d, int kind, int exclude_self, int* __restrict__ pos_idx,
    float* __restrict__ pos_dist, int* __restrict__ neg_idx, float* __restrict__ neg_dist, Tile a_tile, Tile p_tile)
{
    const int tx = threadIdx.x % TRIPLET_GROUP, ty = threadIdx.x / TRIPLET_GROUP;
    const int i0 = blockIdx.x * TRIPLET_TILE_N;

    // Per owned anchor: label, squared norm, d_ap (mode 1) and two running bests.
    //   mode 0: slot 0 = positive (argmax), slot 1 = negative (argmin)
    //   mode 1: slot 0 = semi-hard negative (argmin over d > d_ap), slot 1 = farthest negative (argmax)
    int label[TRIPLET_PER_THREAD], best_i0[TRIPLET_PER_THREAD], best_i1[TRIPLET_PER_THREAD];
    float a2[TRIPLET_PER_THREAD], d_ap[TRIPLET_PER_THREAD], best_v0[TRIPLET_PER_THREAD], best_v1[TRIPLET_PER_THREAD];
#pragma unroll
    for (int r = 0; r < TRIPLET_PER_THREAD; ++r)
    {
        const int i = i0 + ty + TRIPLET_GROUP * r;
        label[r] = i < n ? ya[i] : 0;
        a2[r] = i < n ? na2[i] : 0.0f;
        d_ap[r] = (Mode == 1 && i < n) ? pos_dist[i] : 0.0f;
        best_v0[r] = best_v1[r] = 0.0f;
        best_i0[r] = best_i1[r] = -1;
    }

    // Every thread runs every iteration of both loops (bounds are block-uniform), so the barriers are safe.
    for (int j0 = 0; j0 < m; j0 += TRIPLET_TILE_M)
    {
        float acc[TRIPLET_PER_THREAD][TRIPLET_PER_THREAD];
#pragma unroll
        for (int r = 0; r < TRIPLET_PER_THREAD; ++r)
#pragma unroll
            for (int c = 0; c < TRIPLET_PER_THREAD; ++c) acc[r][c] = 0.0f;

        for (int k0 = 0; k0 < d; k0 += TRIPLET_TILE_K)
        {
            __syncthreads();  // the previous chunk's readers are done
            load_tile(a, n, d, i0, k0, a_tile, tx, ty);
            load_tile(p, m, d, j0, k0, p_tile, tx, ty);
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < TRIPLET_TILE_K; ++kk)
            {
                float av[TRIPLET_PER_THREAD], pv[TRIPLET_PER_THREAD];
#pragma unroll
                for (int q = 0; q < TRIPLET_PER_THREAD; ++q)
                {
                    av[q] = a_tile[kk][ty + TRIPLET_GROUP * q];
                    pv[q] = p_tile[kk][tx + TRIPLET_GROUP * q];
                }
#pragma unroll
                for (int r = 0; r < TRIPLET_PER_THREAD; ++r)
#pragma unroll
                    for (int c = 0; c < TRIPLET_PER_THREAD; ++c) acc[r][c] += av[r] * pv[c];
            }
        }

#pragma unroll
        for (int c = 0; c < TRIPLET_PER_THREAD; ++c)
        {
            const int j = j0 + tx + TRIPLET_GROUP * c;
            if (j >= m) continue;
            const int label_j = yp[j];
            const float b2 = np2[j];
#pragma unroll
            for (int r = 0; r < TRIPLET_PER_THREAD; ++r)
            {
                const int i = i0 + ty + TRIPLET_GROUP * r;
                if (i >= n || (exclude_self && i == j)) continue;
                const float dist = distance_from_dot(acc[r][c], a2[r], b2, kind);
                const bool same = label_j == label[r];
                if (Mode == 0)
                {
                    if (same && arg_better<true>(dist, j, best_v0[r], best_i0[r]))
                    {
                        best_v0[r] = dist;
                        best_i0[r] = j;
                    }
                    if (!same && arg_better<false>(dist, j, best_v1[r], best_i1[r]))
                    {
                        best_v1[r] = dist;
                        best_i1[r] = j;
                    }
                }
                else if (!same)
                {
                    if (dist > d_ap[r] && arg_better<false>(dist, j, best_v0[r], best_i0[r]))
                    {
                        best_v0[r] = dist;
                        best_i0[r] = j;
                    }
                    if (arg_better<true>(dist, j, best_v1[r], best_i1[r]))
                    {
                        best_v1[r] = dist;
                        best_i1[r] = j;
                    }
                }
            }
        }
    }

    // Merge the 16 partial bests of each anchor row (one half-warp; all 32 lanes are here, so full masks are valid).
#pragma unroll
    for (int r = 0; r < TRIPLET_PER_THREAD; ++r)
    {
        warp_arg_reduce<Mode == 0>(best_v0[r], best_i0[r], TRIPLET_GROUP);
        warp_arg_reduce<Mode != 0>(best_v1[r], best_i1[r], TRIPLET_GROUP);
        const int i = i0 + ty + TRIPLET_GROUP * r;
        if (tx != 0 || i >= n) continue;
        if (Mode == 0)
        {
            pos_idx[i] = best_i0[r];
            pos_dist[i] = best_i0[r] < 0 ? 0.0f : best_v0[r];
            neg_idx[i] = best_i1[r];
            neg_dist[i] = best_i1[r] < 0 ? 0.0f : best_v1[r];
        }
        else
        {
            const bool semi = best_i0[r] >= 0;
            neg_idx[i] = semi ? best_i0[r] : best_i1[r];
            neg_dist[i] = semi ? best_v0[r] : (best_i1[r] < 0 ? 0.0f : best_v1[r]);
        }
    }
}

// ---- device helpers: loss ----
// Warp-reduced sums of one row triple: sq/L2 use s_ap = Σ(a−p)², s_aq = Σ(a−q)²; cos/angular use the dot products
// and squared norms.
struct RowSums
{
    float s_ap, s_aq, ap, aq, aa, pp, qq;
};

__device__ __forceinline__ RowSums row_sums(const float* a, const float* p, const float* q, int d, int kind)
{
    RowSums s = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    const int lane = threadIdx.x % AR_WARP_SIZE;
    if (kind == DIST_SQ || kind == DIST_L2)
    {
        for (int k = lane; k < d; k += AR_WARP_SIZE)
        {
            const float u = a[k] - p[k], v = a[k] - q[k];
            s.s_ap += u * u;
            s.s_aq += v * v;
        }
        s.s_ap = warp_sum(s.s_ap);
        s.s_aq = warp_sum(s.s_aq);
        return s;
    }
    for (int k = lane; k < d; k += AR_WARP_SIZE)
    {
        const float av = a[k], pv = p[k], qv = q[k];
        s.ap += av * pv;
        s.aq += av * qv;
        s.aa += av * av;
        s.pp += pv * pv;
        s.qq += qv * qv;
    }
    s.ap = warp_sum(s.ap);
    s.aq = warp_sum(s.aq);
    s.aa = warp_sum(s.aa);
    s.pp = warp_sum(s.pp);
    s.qq = warp_sum(s.qq);
    return s;
}

// Row distance from its sums: s = Σ(a−b)² for sq/L2, or dot and squared norms for cos/angular.
__device__ __forceinline__ float row_distance(float s, float dot, float aa, float bb, int kind)
{
    if (kind == DIST_SQ) return s;
    if (kind == DIST_L2) return sqrtf(s);
    const float c = dot / (clamped_norm(aa) * clamped_norm(bb));
    return kind == DIST_COS ? c : 1.0f - fabsf(c);
}

// Cosine-family derivative of d(a, b) as ∂d/∂a = alpha·b + beta·a and ∂d/∂b = alpha·a + gamma·b.
struct CosineCoeffs
{
    float alpha, beta, gamma;
};

__device__ __forceinline__ CosineCoeffs cosine_coeffs(float dot, float aa, float bb, int kind)
{
    const float na = clamped_norm(aa), nb = clamped_norm(bb);
    const float c = dot / (na * nb);
    const float outer = kind == DIST_ANGULAR ? -sign_f(c) : 1.0f;
    CosineCoeffs k;
    k.alpha = outer / (na * nb);
    k.beta = sqrtf(aa) > AR_NORM_EPS ? -outer * c / (na * na) : 0.0f;
    k.gamma = sqrtf(bb) > AR_NORM_EPS ? -outer * c / (nb * nb) : 0.0f;
    return k;
}

// ---- kernels ----
extern "C" __global__ void __launch_bounds__(TRIPLET_THREADS) triplet_mine_f32(const float* a, const int* ya,
    const float* p, const int* yp, const float* na2, const float* np2, int n, int m, int d, int kind, int mode,
    int exclude_self, int* pos_idx, float* pos_dist, int* neg_idx, float* neg_dist)
{
    __shared__ float a_tile[TRIPLET_TILE_K][TRIPLET_TILE_N + 1];
    __shared__ float p_tile[TRIPLET_TILE_K][TRIPLET_TILE_M + 1];
    if (mode == 0)
        mine<0>(a, ya, p, yp, na2, np2, n, m, d, kind, exclude_self, pos_idx, pos_dist, neg_idx, neg_dist, a_tile,
            p_tile);
    else
        mine<1>(a, ya, p, yp, na2, np2, n, m, d, kind, exclude_self, pos_idx, pos_dist, neg_idx, neg_dist, a_tile,
            p_tile);
}

extern "C" __global__ void triplet_loss_forward_f32(const float* __restrict__ a, const float* __restrict__ p,
    const float* __restrict__ q, float* __restrict__ loss, int n, int d, int kind, float margin)
{
    const int warps = blockDim.x / AR_WARP_SIZE, lane = threadIdx.x % AR_WARP_SIZE;
    // The row is uniform across the warp, so whole warps enter and leave the loop together.
    for (long long row = (long long)blockIdx.x * warps + threadIdx.x / AR_WARP_SIZE; row < n;
         row += (long long)gridDim.x * warps)
    {
        const long long base = row * d;
        const RowSums s = row_sums(a + base, p + base, q + base, d, kind);
        const float d_ap = row_distance(s.s_ap, s.ap, s.aa, s.pp, kind);
        const float d_an = row_distance(s.s_aq, s.aq, s.aa, s.qq, kind);
        if (lane == 0) loss[row] = fmaxf(d_ap - d_an + margin, 0.0f);
    }
}

extern "C" __global__ void triplet_loss_backward_f32(const float* __restrict__ a, const float* __restrict__ p,
    const float* __restrict__ q, const float* __restrict__ gloss, float* __restrict__ ga, float* __restrict__ gp,
    float* __restrict__ gq, int n, int d, int kind, float margin)
{
    const int warps = blockDim.x / AR_WARP_SIZE, lane = threadIdx.x % AR_WARP_SIZE;
    for (long long row = (long long)blockIdx.x * warps + threadIdx.x / AR_WARP_SIZE; row < n;
         row += (long long)gridDim.x * warps)
    {
        const long long base = row * d;
        const float *ar = a + base, *pr = p + base, *qr = q + base;
        float *gar = ga + base, *gpr = gp + base, *gqr = gq + base;
        const RowSums s = row_sums(ar, pr, qr, d, kind);
        const float d_ap = row_distance(s.s_ap, s.ap, s.aa, s.pp, kind);
        const float d_an = row_distance(s.s_aq, s.aq, s.aa, s.qq, kind);
        const float gl = d_ap - d_an + margin > 0.0f ? gloss[row] : 0.0f;
        if (gl == 0.0f)
        {
            for (int k = lane; k < d; k += AR_WARP_SIZE) gar[k] = gpr[k] = gqr[k] = 0.0f;
        }
        else if (kind == DIST_SQ || kind == DIST_L2)
        {
            // ∂d/∂a = kappa·(a − b), ∂d/∂b = −kappa·(a − b).
            const float kp = kind == DIST_SQ ? 2.0f : (d_ap > 0.0f ? 1.0f / d_ap : 0.0f);
            const float kq = kind == DIST_SQ ? 2.0f : (d_an > 0.0f ? 1.0f / d_an : 0.0f);
            for (int k = lane; k < d; k += AR_WARP_SIZE)
            {
                const float u = ar[k] - pr[k], v = ar[k] - qr[k];
                gar[k] = gl * (kp * u - kq * v);
                gpr[k] = -gl * kp * u;
                gqr[k] = gl * kq * v;
            }
        }
        else
        {
            const CosineCoeffs cp = cosine_coeffs(s.ap, s.aa, s.pp, kind);
            const CosineCoeffs cq = cosine_coeffs(s.aq, s.aa, s.qq, kind);
            for (int k = lane; k < d; k += AR_WARP_SIZE)
            {
                const float av = ar[k], pv = pr[k], qv = qr[k];
                gar[k] = gl * ((cp.alpha * pv + cp.beta * av) - (cq.alpha * qv + cq.beta * av));
                gpr[k] = gl * (cp.alpha * av + cp.gamma * pv);
                gqr[k] = -gl * (cq.alpha * av + cq.gamma * qv);
            }
        }
    }
}
