// loss.cu — per-sample classification losses over logits: softmax cross-entropy with label smoothing, log-softmax,
// and the margin losses an attacker maximizes (CW, DLR, targeted DLR).
//
// Math (row i: logits z of K classes, label y, smoothing ε, target t; lse = m + ln Σ_j e^(z_j − m), m = max z):
//   softmax CE    p_j = e^(z_j − m)/Σ_k e^(z_k − m); loss = lse − (1 − ε)·z_y − (ε/K)·Σ_j z_j   (= −Σ_j q_j ln p_j with
//                 q = (1 − ε)·onehot(y) + ε/K); backward dz_j = g·(p_j − (1 − ε)·[j = y] − ε/K)
//   log-softmax   out_j = z_j − lse; backward dz_j = dout_j − e^(out_j)·Σ_k dout_k
//   margins       sorted logits z_π1 ≥ z_π2 ≥ ... (a stable descending order: equal values keep index order, so
//                 π ties go to the lower index); o = the first index of max_{j≠y} z_j
//     CW          loss = z_o − z_y;                              dz_o += g, dz_y −= g
//     DLR         loss = −(z_y − z_o)/D, D = z_π1 − z_π3 + 1e-12; A = z_y − z_o:
//                 dz_y −= g/D, dz_o += g/D, dz_π1 += g·A/D², dz_π3 −= g·A/D²
//     targeted    loss = −(z_y − z_t)/D, D = z_π1 − (z_π3 + z_π4)/2 + 1e-12; A = z_y − z_t:
//                 dz_y −= g/D, dz_t += g/D, dz_π1 += g·A/D², dz_π3 −= g·A/(2D²), dz_π4 −= g·A/(2D²)
//   (semantics: MarginKind in src/AdvRobust.Core/NnKinds.cs and the CPU twin CpuBackend.Loss.cs)
//   Numerics: softmax CE and log-softmax run in float (the CPU twin in double: agreement to float rounding of lse).
//   The margins compute num, den and the gradient terms in double from the float logits, as the CPU does, adding the
//   terms that land on one class in the CPU's order (y, other, π1, π3, π4), so they match it bit for bit.
//   A label or target outside [0, K) (the CPU twin throws) gives a NaN loss and NaN gradients for that row instead
//   of an out-of-bounds read.
// Layout: logits, probs, out, dz N×K float32 row-major; labels, targets int32[N]; loss, g float32[N].
// Launch: softmax CE forward and log-softmax forward/backward: one warp per row, LOSS_ROWS_PER_BLOCK = 8 rows per
//   256-thread block, grid = ceil_div(N, 8); lanes stride over the K classes, reductions by warp butterfly.
//   softmax CE backward: 1-D grid-stride over N·K, blockDim 256. Margin forward/backward: one thread per row,
//   1-D grid-stride over N (they select 4 order statistics with 4 passes over the row).
// Traffic per element: CE forward reads z 3× (max, sum, p), writes p = 16 B | CE backward reads p, writes dz
//   = 8 B (+8 B per row) | log-softmax forward reads 2×, writes 1 = 12 B; backward reads dout 2×, out 1×, writes 1
//   = 16 B | margins read the row 4×–5× and the backward writes it once (≈ 24 B per logit).
#include "common.cuh"

// ---- constants ----
#define LOSS_ROWS_PER_BLOCK 8
#define LOSS_DLR_EPS 1e-12  // a double, as in the CPU twin

// ---- device helpers ----
enum { MARGIN_CW = 0, MARGIN_DLR = 1, MARGIN_TARGETED_DLR = 2 };

__device__ __forceinline__ int warp_row() { return blockIdx.x * LOSS_ROWS_PER_BLOCK + threadIdx.x / AR_WARP_SIZE; }
__device__ __forceinline__ int lane_id() { return threadIdx.x & (AR_WARP_SIZE - 1); }

// Max m and Σ_j e^(z_j − m) of one row by one warp (every lane gets both); lse = m + ln(sum).
__device__ __forceinline__ void warp_row_softmax_stats(const float* __restrict__ z, int k, float& m, float& sum)
{
    m = -ar_inf();
    for (int j = lane_id(); j < k; j += AR_WARP_SIZE) m = MaxOp::apply(m, z[j]);
    m = warp_reduce<MaxOp>(m);
    float s = 0.0f;
    for (int j = lane_id(); j < k; j += AR_WARP_SIZE) s += expf(z[j] - m);
    sum = warp_sum(s);
}

// Index of the largest z_j with j not in `skip` (count entries), first index on ties; -1 when every j is skipped.
__device__ __forceinline__ int row_argmax_except(const float* __restrict__ z, int k, const int* skip, int count)
{
    int best = -1;
    for (int j = 0; j < k; ++j)
    {
        bool skipped = false;
        for (int s = 0; s < count; ++s) skipped = skipped || skip[s] == j;
        if (skipped) continue;
        if (best < 0 || z[j] > z[best]) best = j;
    }
    return best;
}

// The order statistics a margin needs: o = argmax_{j≠y}, and π1..π4 of the stable descending sort (π4 only when
// `ranks` = 4). All indices are valid because the host requires K ≥ 2, 3, 4 for CW, DLR, targeted DLR.
struct MarginPicks
{
    int o, pi[4];
};

__device__ __forceinline__ MarginPicks margin_picks(const float* __restrict__ z, int k, int y, int ranks)
{
    MarginPicks r = { -1, { -1, -1, -1, -1 } };
    r.o = row_argmax_except(z, k, &y, 1);
    for (int i = 0; i < ranks; ++i) r.pi[i] = row_argmax_except(z, k, r.pi, i);
    return r;
}

__device__ __forceinline__ int margin_ranks(int kind) { return kind == MARGIN_CW ? 0 : (kind == MARGIN_DLR ? 3 : 4); }

// −num/den is the loss; CW has den = 1. Double, from float logits, in the CPU twin's order of operations.
__device__ __forceinline__ void margin_terms(const float* __restrict__ z, const MarginPicks& r, int y, int other,
    int kind, double& num, double& den)
{
    num = (double)z[y] - (double)z[other];
    if (kind == MARGIN_CW)
        den = 1.0;
    else if (kind == MARGIN_DLR)
        den = (double)z[r.pi[0]] - (double)z[r.pi[2]] + LOSS_DLR_EPS;
    else
        den = (double)z[r.pi[0]] - ((double)z[r.pi[2]] + (double)z[r.pi[3]]) / 2.0 + LOSS_DLR_EPS;
}

__device__ __forceinline__ bool class_ok(int j, int k) { return j >= 0 && j < k; }

// ---- kernels ----
extern "C" __global__ void softmax_cross_entropy_forward_f32(const float* __restrict__ logits,
    const int* __restrict__ labels, float* __restrict__ loss, float* __restrict__ probs, int n, int k,
    float smoothing)
{
    const int row = warp_row();
    if (row >= n) return;  // warp-uniform: no block barrier in this kernel
    const float* z = logits + (long long)row * k;
    float* p = probs + (long long)row * k;
    float m, sum;
    warp_row_softmax_stats(z, k, m, sum);
    const float lse = m + logf(sum);
    float sum_z = 0.0f;
    for (int j = lane_id(); j < k; j += AR_WARP_SIZE)
    {
        p[j] = expf(z[j] - m) / sum;
        sum_z += z[j];
    }
    sum_z = warp_sum(sum_z);
    const int y = labels[row];
    if (lane_id() == 0)
        loss[row] = class_ok(y, k) ? lse - (1.0f - smoothing) * z[y] - (smoothing / (float)k) * sum_z
                                   : __int_as_float(0x7fc00000);
}

extern "C" __global__ void softmax_cross_entropy_backward_f32(const float* __restrict__ probs,
    const int* __restrict__ labels, const float* __restrict__ gloss, float* __restrict__ glogits, int n, int k,
    float smoothing)
{
    const long long total = (long long)n * k;
    const float off = smoothing / (float)k, on = 1.0f - smoothing;
    for (long long e = grid_start(); e < total; e += grid_stride())
    {
        long long i;
        int j;
        divmod_ll(e, k, i, j);
        const int y = labels[i];
        const float target = class_ok(y, k) ? (j == y ? on : 0.0f) + off : __int_as_float(0x7fc00000);
        glogits[e] = gloss[i] * (probs[e] - target);
    }
}

extern "C" __global__ void log_softmax_forward_f32(const float* __restrict__ x, float* __restrict__ y, int n, int k)
{
    const int row = warp_row();
    if (row >= n) return;
    const float* z = x + (long long)row * k;
    float* out = y + (long long)row * k;
    float m, sum;
    warp_row_softmax_stats(z, k, m, sum);
    const float lse = m + logf(sum);
    for (int j = lane_id(); j < k; j += AR_WARP_SIZE) out[j] = z[j] - lse;
}

extern "C" __global__ void log_softmax_backward_f32(const float* __restrict__ y, const float* __restrict__ dy,
    float* __restrict__ dx, int n, int k)
{
    const int row = warp_row();
    if (row >= n) return;
    const long long base = (long long)row * k;
    float s = 0.0f;
    for (int j = lane_id(); j < k; j += AR_WARP_SIZE) s += dy[base + j];
    s = warp_sum(s);
    for (int j = lane_id(); j < k; j += AR_WARP_SIZE) dx[base + j] = dy[base + j] - expf(y[base + j]) * s;
}

extern "C" __global__ void margin_loss_forward_f32(const float* __restrict__ logits, const int* __restrict__ labels,
    const int* __restrict__ targets, float* __restrict__ loss, int n, int k, int kind)
{
    for (long long i = grid_start(); i < n; i += grid_stride())
    {
        const float* z = logits + i * k;
        const int y = labels[i];
        const int t = kind == MARGIN_TARGETED_DLR ? targets[i] : 0;
        if (!class_ok(y, k) || !class_ok(t, k))
        {
            loss[i] = __int_as_float(0x7fc00000);
            continue;
        }
        const MarginPicks r = margin_picks(z, k, y, margin_ranks(kind));
        double num, den;
        margin_terms(z, r, y, kind == MARGIN_TARGETED_DLR ? t : r.o, kind, num, den);
        loss[i] = (float)(-num / den);
    }
}

extern "C" __global__ void margin_loss_backward_f32(const float* __restrict__ logits, const int* __restrict__ labels,
    const int* __restrict__ targets, const float* __restrict__ gloss, float* __restrict__ glogits, int n, int k,
    int kind)
{
    for (long long i = grid_start(); i < n; i += grid_stride())
    {
        const float* z = logits + i * k;
        float* dz = glogits + i * k;
        const int y = labels[i];
        const int t = kind == MARGIN_TARGETED_DLR ? targets[i] : 0;
        if (!class_ok(y, k) || !class_ok(t, k))
        {
            for (int j = 0; j < k; ++j) dz[j] = __int_as_float(0x7fc00000);
            continue;
        }
        const MarginPicks r = margin_picks(z, k, y, margin_ranks(kind));
        const int other = kind == MARGIN_TARGETED_DLR ? t : r.o;
        double num, den;
        margin_terms(z, r, y, other, kind, num, den);
        // loss = −num/den: ∂/∂num = −1/den, ∂/∂den = num/den²; up to five (class, term) pairs in the CPU's order.
        const double g = (double)gloss[i];
        const double d_num = -g / den, d_den = g * num / (den * den);
        int at[5] = { y, other, -1, -1, -1 };
        double add[5] = { d_num, -d_num, 0.0, 0.0, 0.0 };
        if (kind == MARGIN_DLR)
        {
            at[2] = r.pi[0];
            add[2] = d_den;
            at[3] = r.pi[2];
            add[3] = -d_den;
        }
        else if (kind == MARGIN_TARGETED_DLR)
        {
            at[2] = r.pi[0];
            add[2] = d_den;
            at[3] = r.pi[2];
            add[3] = -d_den / 2.0;
            at[4] = r.pi[3];
            add[4] = -d_den / 2.0;
        }
        for (int j = 0; j < k; ++j)
        {
            // The first term that lands on j starts its sum (as the CPU's slot does); later ones add in order.
            bool any = false;
            double v = 0.0;
            for (int c = 0; c < 5; ++c)
            {
                if (at[c] != j) continue;
                v = any ? v + add[c] : add[c];
                any = true;
            }
            dz[j] = (float)v;
        }
    }
}
