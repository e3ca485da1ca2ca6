// attack.cu — per-sample attack bookkeeping on the device, so no attack step reads anything back to the host
// (src/AdvRobust.Core/Attacks: Pgd, Fgsm, Apgd). CPU twin: src/AdvRobust.Cpu/CpuBackend.Attack.cs.
//
// Math (N samples, K classes, M loss terms per sample, D = per_sample values per sample):
//   attack_track   loss_s = M == 1 ? loss[s] : Σ_j loss[s, j] (float, left to right); pred = argmax_j logits[s, j]
//                  (lowest index on ties); success = targets ? pred == t_s : pred != y_s;
//                  take = !set || (keep_highest ? loss_s > best : (success && !best_success) ||
//                         (!success && !best_success && loss_s > best));
//                  on take: set = 1, best_success = success, best = loss_s, best_x[s] = x[s];
//                  current = loss_s; if !best_success_new: *pending = 1 (every writer stores the same value, so the
//                  race is benign and needs no atomics; the host clears the flag when it reads it).
//   apgd_step      η = step[s]; u = sign(g)·η (l2: g·η/(‖g‖ + 1e-12)); z = P(x + u);
//                  x_new = P(x + (1 − a)(x − x_old) + a(z − x)); x_old = x. P: projection onto the ε-ball around x0
//                  (l-inf per element, l2 per sample) and [0, 1].
//   apgd_schedule  f = loss[s]: increases += f > prev; prev = f; if f > best: best = f, x_best[s] = x[s],
//                  g_best[s] = g[s]; at a checkpoint: halve = increases ≤ window·ρ || (!halved_last && best_at_check ≥
//                  best); if halve: step /= 2, x[s] = x_best[s], g[s] = g_best[s]; halved_last = halve;
//                  best_at_check = best; increases = 0.
//   No backward: bookkeeping, not differentiable ops.
// Layout: logits N×K, loss N×M, x and every batch-shaped state N×D contiguous float32; flags and counts int32 N (halved_last float32 0/1).
// Launch: one block per sample (grid = N, blockDim 256); the block argmaxes or reduces its row, thread 0 decides,
//   and the block copies the D values of a taken row.
// Traffic per sample: track reads K + M floats and 5 state values, writes 5, plus 8·D B when the row is taken |
//   apgd_step reads x, x_old, x0, g and writes z, x, x_old: about 40·D B (l2 re-reads z and x for the norms) |
//   apgd_schedule 16 B of state, plus 16·D B per improved or halved row.
#include "common.cuh"

// ---- device helpers ----
__device__ __forceinline__ void copy_row(float* __restrict__ dst, const float* __restrict__ src, int d)
{
    for (int k = threadIdx.x; k < d; k += blockDim.x) dst[k] = src[k];
}

// In place on v (one sample): the l-inf clip per element, or the l2 shrink of v − x0 by the block; then [0, 1].
__device__ __forceinline__ void project(float* __restrict__ v, const float* __restrict__ x0, float eps, int d, int l2,
    float* scratch)
{
    float shrink = 1.0f;
    if (l2)
    {
        float acc = 0.0f;
        for (int k = threadIdx.x; k < d; k += blockDim.x)
        {
            const float dk = v[k] - x0[k];
            acc += dk * dk;
        }
        const float dn = sqrtf(block_sum(acc, scratch));
        if (dn > eps) shrink = eps / dn;
    }
    for (int k = threadIdx.x; k < d; k += blockDim.x)
    {
        const float p = l2 ? x0[k] + (v[k] - x0[k]) * shrink : fminf(fmaxf(v[k], x0[k] - eps), x0[k] + eps);
        v[k] = clamp_f(p, 0.0f, 1.0f);
    }
}

// ---- kernels ----
extern "C" __global__ void attack_track_f32(const float* __restrict__ logits, int k, const float* __restrict__ loss,
    int m, const int* __restrict__ labels, const int* __restrict__ targets, const float* __restrict__ x, int d,
    float* __restrict__ best_loss, int* __restrict__ best_success, int* __restrict__ best_set,
    float* __restrict__ current, float* __restrict__ best_x, int* __restrict__ pending, int keep_highest)
{
    __shared__ float scratch_v[AR_WARP_SIZE];
    __shared__ int scratch_i[AR_WARP_SIZE];
    __shared__ int take;
    const int s = blockIdx.x;
    const float* row = logits + (long long)s * k;
    float v = 0.0f;
    int i = -1;
    for (int j = threadIdx.x; j < k; j += blockDim.x)
        if (arg_better<true>(row[j], j, v, i))
        {
            v = row[j];
            i = j;
        }
    block_arg_reduce<true>(v, i, scratch_v, scratch_i);
    if (threadIdx.x == 0)
    {
        const float* terms = loss + (long long)s * m;
        float f = terms[0];
        if (m > 1)
        {
            f = 0.0f;
            for (int j = 0; j < m; j++) f += terms[j];
        }
        const int success = targets ? i == targets[s] : i != labels[s];
        const int had = best_success[s];
        current[s] = f;
        const bool better = !best_set[s] || (keep_highest ? f > best_loss[s]
            : (success && !had) || (!success && !had && f > best_loss[s]));
        if (better)
        {
            best_set[s] = 1;
            best_success[s] = success;
            best_loss[s] = f;
        }
        if (!(better ? success : had)) *pending = 1;
        take = better;
    }
    __syncthreads();
    if (take && best_x) copy_row(best_x + (long long)s * d, x + (long long)s * d, d);
}

// Element k of the sample is touched by thread k % blockDim.x in every pass, so the passes need no barrier beyond
// those inside block_sum.
extern "C" __global__ void apgd_step_f32(float* __restrict__ x, float* __restrict__ x_old,
    const float* __restrict__ x0, const float* __restrict__ g, const float* __restrict__ step, float* __restrict__ z,
    float eps, float a, int d, int l2)
{
    __shared__ float scratch[AR_WARP_SIZE];
    const long long base = (long long)blockIdx.x * d;
    float* xs = x + base;
    float* olds = x_old + base;
    float* zs = z + base;
    const float* x0s = x0 + base;
    const float* gs = g + base;
    float scale = step[blockIdx.x];
    if (l2)
    {
        float acc = 0.0f;
        for (int k = threadIdx.x; k < d; k += blockDim.x) acc += gs[k] * gs[k];
        scale = scale / (sqrtf(block_sum(acc, scratch)) + 1e-12f);
    }
    for (int k = threadIdx.x; k < d; k += blockDim.x) zs[k] = xs[k] + (l2 ? gs[k] : sign_f(gs[k])) * scale;
    project(zs, x0s, eps, d, l2, scratch);
    for (int k = threadIdx.x; k < d; k += blockDim.x)
    {
        const float xk = xs[k], m = xk - olds[k];
        olds[k] = xk;
        xs[k] = xk + ((1.0f - a) * m + a * (zs[k] - xk));
    }
    project(xs, x0s, eps, d, l2, scratch);
}

extern "C" __global__ void apgd_schedule_f32(const float* __restrict__ loss, float* __restrict__ x,
    float* __restrict__ g, float* __restrict__ x_best, float* __restrict__ g_best, float* __restrict__ step,
    float* __restrict__ loss_best, float* __restrict__ best_at_check, float* __restrict__ loss_prev,
    int* __restrict__ increases, float* __restrict__ halved_last, int d, int checkpoint, int window, float rho)
{
    __shared__ int improved, halve;
    const int s = blockIdx.x;
    const long long base = (long long)s * d;
    if (threadIdx.x == 0)
    {
        const float f = loss[s];
        if (f > loss_prev[s]) increases[s]++;
        loss_prev[s] = f;
        improved = f > loss_best[s];
        if (improved) loss_best[s] = f;
        halve = 0;
        if (checkpoint)
        {
            halve = (float)increases[s] <= (float)window * rho || (halved_last[s] == 0.0f && best_at_check[s] >= loss_best[s]);
            if (halve) step[s] /= 2.0f;
            halved_last[s] = halve ? 1.0f : 0.0f;
            best_at_check[s] = loss_best[s];
            increases[s] = 0;
        }
    }
    __syncthreads();
    if (improved)
    {
        copy_row(x_best + base, x + base, d);
        copy_row(g_best + base, g + base, d);
    }
    // The same thread wrote element k of x_best above, so reading it back needs no barrier.
    if (halve)
    {
        copy_row(x + base, x_best + base, d);
        copy_row(g + base, g_best + base, d);
    }
}
