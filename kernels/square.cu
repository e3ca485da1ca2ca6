// square.cu — the Square Attack's queries on the device (Andriushchenko et al. 2020): candidates from Philox-drawn
// windows and the per-sample acceptance. CPU twins: src/AdvRobust.Cpu/CpuBackend.Square.cs (Square.CandidateLinf,
// SquareL2.Candidate in Core, which state the math in full).
//
// Math, per row i (a sample of C×H×W pixels, attacked while margin_min[i] > 0; other rows get cand = best):
//   linf   r = Draw(seed, stream, 6, id_i, q); window corner (r.x mod (H−s+1), r.y mod (W−s+1)), channel signs
//          σ_c = bit c of r.z; in the window cand = clamp(min(max(best + 2ε·σ_c, x0 − ε), x0 + ε), 0, 1), else best.
//   l2     δ = best − x0 (double); r = Draw(.., 2q) gives W₁ = (r.x, r.y) and W₂ = (r.z, r.w) mod (H−s+1, W−s+1),
//          b = Draw(.., 2q+1) the signs (bit c of b.x) and the transpose (top bit of b.y); η(s) = [ρ̂(⌊s/2⌋, s);
//          −ρ̂(s−⌊s/2⌋, s)]/√parts with ρ(a, b)_ij = T(max(|i−⌊a/2⌋|, |j−⌊s/2⌋|)), T(k) = Σ_{k'=k}^{s/2} 1/(k'+1)²,
//          ρ̂ = ρ/‖ρ‖; target = √(max(ε² − ‖δ‖², 0)/C + ‖δ[W₁ ∪ W₂]‖²); per channel u_c = σ_c·η + δ_c[W₁]/(‖δ_c[W₁]‖ +
//          1e-12), scaled to target/(‖u_c‖ + 1e-12); δ' = u on W₁, 0 on W₂ \ W₁, δ elsewhere;
//          cand = clamp(x0 + ε·δ'/(‖δ'‖ + 1e-12), 0, 1).
//   accept m = z_y − max_{j≠y} z_j; improved = m < loss_min; loss_min = m if improved; if improved or m ≤ 0:
//          margin_min = m, best = cand.
//   query  q and s are kernel arguments, or (counter ≠ null) q = *counter and s follows the p schedule (square_side,
//          the twin of Square.P with Square.Side / SquareL2.Side); accept then advances *counter by one (block 0), so
//          a query's launches keep the same arguments and replay as one graph.
//   No backward: these are search steps.
// Layout: x0, best, cand N×C×H×W float32 contiguous (d = C·H·W per row); margin_min, loss_min N float32; ids N
//   uint32; logits N×K float32; labels N int32; counter one int32 or null. C ≤ 32 (one sign bit per channel),
//   s ≤ SQUARE_MAX_SIDE.
// Launch: linf candidates 1-D grid-stride over N·d, blockDim 256 (the Philox draw recomputed per pixel, 10 rounds);
//   l2 candidates one block per row, blockDim 256 (a power of two: the double tree reductions); accept one block
//   per row, blockDim 256.
// Traffic per pixel: linf candidates read 2 floats (best, x0) and write 1 = 12 B | l2 candidates read best and x0
//   three times (‖δ‖², the window sums, δ' twice) and write 1: about 28 B requested, window pixels more (C + 2 extra
//   passes over the s×s windows) | accept reads K logits per row and copies an accepted row: 8 B per pixel.
#include "common.cuh"
#include "philox.cuh"

#define SQUARE_PHILOX_PURPOSE 6u  // Philox.PurposeSquareStep in src/AdvRobust.Core/Random/Philox.cs
#define SQUARE_MAX_SIDE 1024      // Ops.SquareMaxSide
#define SQUARE_BLOCK 256

// ---- device helpers ----
// Sum over the block in double by a shared-memory tree (buf holds blockDim.x values, blockDim.x a power of two);
// every thread must call it and gets the total. The leading barrier lets calls follow each other on one buffer.
__device__ __forceinline__ double square_block_sum(double v, double* buf)
{
    __syncthreads();
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1)
    {
        if ((int)threadIdx.x < half) buf[threadIdx.x] += buf[threadIdx.x + half];
        __syncthreads();
    }
    return buf[0];
}

__device__ __forceinline__ float square_clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

__device__ __forceinline__ bool square_inside(int py, int px, int vh, int vw, int s)
{
    return py >= vh && py < vh + s && px >= vw && px < vw + s;
}

// η(s)_ij (not transposed) from the tail sums T: rows above ⌊s/2⌋ are the positive part, the rest the negative one.
__device__ __forceinline__ double square_eta(int i, int j, int s, const double* tail, double norm_top,
    double norm_bottom, double parts)
{
    const int top = s / 2, cj = s / 2;
    const bool upper = i < top;
    const int a = upper ? top : s - top, ii = upper ? i : i - top, ci = a / 2;
    const int di = ii > ci ? ii - ci : ci - ii, dj = j > cj ? j - cj : cj - j;
    const double v = tail[di > dj ? di : dj] / (upper ? norm_top : norm_bottom);
    return (upper ? v : -v) / parts;
}

// Square.P then Square.Side (l-inf) or SquareL2.Side (l2), the same float and double steps: p = p_init / 2^halvings
// with halvings = #{b ∈ bounds : it > b}, it rescaled to a 10000-query budget when asked; side = round-half-even of
// √(p·H·W) (float product, double root), at least 1 (l-inf) or 3 made odd (l2), at most min(H, W).
__device__ __forceinline__ int square_side(int it, float p_init, int queries, int rescale, int h, int w, bool l2)
{
    if (rescale) it = (int)((double)it / queries * 10000.0);
    const int bounds[9] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
    int halvings = 0;
    for (int b = 0; b < 9; b++) halvings += it > bounds[b] ? 1 : 0;
    const float p = p_init / (float)(1 << halvings);
    int s = (int)rint(sqrt((double)(p * (float)h * (float)w)));
    const int hw = h < w ? h : w;
    if (l2)
    {
        s = s > 3 ? s : 3;
        if (s % 2 == 0) s++;
    }
    else s = s > 1 ? s : 1;
    return s < hw ? s : hw;
}

// ---- kernels ----
extern "C" __global__ void square_linf_candidates_f32(const float* __restrict__ x0, const float* __restrict__ best,
    const float* __restrict__ margin_min, const int* __restrict__ ids, float* __restrict__ cand, int c, int h, int w,
    int s, float eps, unsigned long long seed, unsigned int stream, int query, const int* __restrict__ counter,
    float p_init, int queries, int rescale, long long n)
{
    const int hw = h * w, d = c * hw;
    if (counter)
    {
        query = *counter;
        s = square_side(query, p_init, queries, rescale, h, w, false);
    }
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long row;
        int k;
        divmod_ll(e, d, row, k);
        float v = best[e];
        if (margin_min[row] > 0.0f)
        {
            const philox4 r = philox_draw(seed, stream, SQUARE_PHILOX_PURPOSE, (unsigned int)ids[row],
                (unsigned int)query);
            const int vh = (int)(r.x % (unsigned int)(h - s + 1)), vw = (int)(r.y % (unsigned int)(w - s + 1));
            const int ch = k / hw, pix = k - ch * hw, py = pix / w, px = pix - py * w;
            if (py >= vh && py < vh + s && px >= vw && px < vw + s)
            {
                const float delta = 2.0f * eps * (((r.z >> ch) & 1u) != 0u ? 1.0f : -1.0f);
                const float base = x0[e];
                v = square_clamp01(fminf(fmaxf(v + delta, base - eps), base + eps));
            }
        }
        cand[e] = v;
    }
}

// grid = N blocks: block i owns row i. δ is recomputed from best − x0 in each pass instead of being stored.
extern "C" __global__ void square_l2_candidates_f32(const float* __restrict__ x0, const float* __restrict__ best,
    const float* __restrict__ margin_min, const int* __restrict__ ids, float* __restrict__ cand, int c, int h, int w,
    int s, float eps, unsigned long long seed, unsigned int stream, int query, const int* __restrict__ counter,
    float p_init, int queries, int rescale)
{
    __shared__ double buf[SQUARE_BLOCK];
    __shared__ double tail[SQUARE_MAX_SIDE / 2 + 1];
    __shared__ double win1[32], scale[32];
    const int hw = h * w, d = c * hw;
    const long long base = (long long)blockIdx.x * d;
    const float* xs = x0 + base;
    const float* bs = best + base;
    float* out = cand + base;
    if (!(margin_min[blockIdx.x] > 0.0f))
    {
        for (int k = threadIdx.x; k < d; k += blockDim.x) out[k] = bs[k];
        return;
    }
    if (counter)
    {
        query = *counter;
        s = square_side(query, p_init, queries, rescale, h, w, true);
    }
    const unsigned int id = (unsigned int)ids[blockIdx.x];
    const philox4 win = philox_draw(seed, stream, SQUARE_PHILOX_PURPOSE, id, 2u * (unsigned int)query);
    const philox4 bits = philox_draw(seed, stream, SQUARE_PHILOX_PURPOSE, id, 2u * (unsigned int)query + 1u);
    const int vh = (int)(win.x % (unsigned int)(h - s + 1)), vw = (int)(win.y % (unsigned int)(w - s + 1));
    const int vh2 = (int)(win.z % (unsigned int)(h - s + 1)), vw2 = (int)(win.w % (unsigned int)(w - s + 1));
    const bool transpose = (bits.y & 0x80000000u) != 0u;
    const int ss = s * s, top = s / 2, m = s / 2 + 1;

    // T(k) = Σ_{k'=k}^{m−1} 1/(k'+1)², then the norms of the two raw parts.
    if (threadIdx.x == 0)
    {
        double acc = 0.0;
        for (int k = m - 1; k >= 0; k--)
        {
            acc += 1.0 / ((k + 1.0) * (k + 1.0));
            tail[k] = acc;
        }
    }
    __syncthreads();
    double top2 = 0.0, bottom2 = 0.0;
    for (int e = threadIdx.x; e < ss; e += blockDim.x)
    {
        const int i = e / s, j = e - i * s;
        const double v = square_eta(i, j, s, tail, 1.0, 1.0, 1.0);
        if (i < top) top2 += v * v;
        else bottom2 += v * v;
    }
    const double norm_top = sqrt(square_block_sum(top2, buf)), norm_bottom = sqrt(square_block_sum(bottom2, buf));
    const double parts = top > 0 ? sqrt(2.0) : 1.0;

    // ‖δ‖² and ‖δ[W₁ ∪ W₂]‖².
    double image2 = 0.0, windows2 = 0.0;
    for (int k = threadIdx.x; k < d; k += blockDim.x)
    {
        const double v = (double)bs[k] - xs[k];
        const int pix = k % hw, py = pix / w, px = pix - py * w;
        image2 += v * v;
        if (square_inside(py, px, vh, vw, s) || square_inside(py, px, vh2, vw2, s)) windows2 += v * v;
    }
    image2 = square_block_sum(image2, buf);
    windows2 = square_block_sum(windows2, buf);
    const double free2 = (double)eps * eps - image2;
    const double target = sqrt((free2 > 0.0 ? free2 : 0.0) / c + windows2);

    // Per channel: ‖δ_c[W₁]‖, then ‖u_c‖ and the scale of u_c.
    for (int ch = 0; ch < c; ch++)
    {
        const float* xc = xs + ch * hw;
        const float* bc = bs + ch * hw;
        double acc = 0.0;
        for (int e = threadIdx.x; e < ss; e += blockDim.x)
        {
            const int i = e / s, j = e - i * s, at = (vh + i) * w + vw + j;
            const double v = (double)bc[at] - xc[at];
            acc += v * v;
        }
        const double w1 = sqrt(square_block_sum(acc, buf));
        const double sign = ((bits.x >> ch) & 1u) != 0u ? 1.0 : -1.0;
        acc = 0.0;
        for (int e = threadIdx.x; e < ss; e += blockDim.x)
        {
            const int i = e / s, j = e - i * s, at = (vh + i) * w + vw + j;
            const double eta = transpose ? square_eta(j, i, s, tail, norm_top, norm_bottom, parts)
                                         : square_eta(i, j, s, tail, norm_top, norm_bottom, parts);
            const double u = sign * eta + ((double)bc[at] - xc[at]) / (w1 + 1e-12);
            acc += u * u;
        }
        const double unorm = sqrt(square_block_sum(acc, buf));
        if (threadIdx.x == 0)
        {
            win1[ch] = w1;
            scale[ch] = target / (unorm + 1e-12);
        }
    }
    __syncthreads();

    // δ'_k: u·scale on W₁, 0 on W₂ \ W₁, δ elsewhere; then its norm and the write.
    double moved2 = 0.0;
    for (int pass = 0; pass < 2; pass++)
    {
        const double place = pass == 0 ? 0.0 : (double)eps / (sqrt(moved2) + 1e-12);
        for (int k = threadIdx.x; k < d; k += blockDim.x)
        {
            const int ch = k / hw, pix = k - ch * hw, py = pix / w, px = pix - py * w;
            double v = (double)bs[k] - xs[k];
            if (square_inside(py, px, vh, vw, s))
            {
                const int i = py - vh, j = px - vw;
                const double eta = transpose ? square_eta(j, i, s, tail, norm_top, norm_bottom, parts)
                                             : square_eta(i, j, s, tail, norm_top, norm_bottom, parts);
                const double sign = ((bits.x >> ch) & 1u) != 0u ? 1.0 : -1.0;
                v = (sign * eta + v / (win1[ch] + 1e-12)) * scale[ch];
            }
            else if (square_inside(py, px, vh2, vw2, s))
                v = 0.0;
            if (pass == 0) moved2 += v * v;
            else
            {
                const double r = xs[k] + v * place;
                out[k] = (float)(r < 0.0 ? 0.0 : (r > 1.0 ? 1.0 : r));
            }
        }
        if (pass == 0) moved2 = square_block_sum(moved2, buf);
    }
}

// grid = N blocks: block i owns row i. Every thread computes the row's margin (K is small); thread 0 writes the
// bookkeeping after a barrier that follows every thread's reads of it. Block 0's thread 0 advances the query counter
// (no block of this kernel reads it; the next query's candidates, later on the stream, do).
extern "C" __global__ void square_accept_f32(const float* __restrict__ logits, const int* __restrict__ labels,
    const float* __restrict__ cand, float* __restrict__ best, float* __restrict__ margin_min,
    float* __restrict__ loss_min, int* __restrict__ counter, int k, int d)
{
    const int i = blockIdx.x;
    if (counter && i == 0 && threadIdx.x == 0) *counter += 1;
    const float mm = margin_min[i], lm = loss_min[i];
    if (!(mm > 0.0f)) return;  // uniform over the block
    const float* z = logits + (long long)i * k;
    const int y = labels[i];
    float other = -ar_inf();
    for (int j = 0; j < k; j++)
        if (j != y) other = fmaxf(other, z[j]);
    const float m = z[y] - other;
    const bool improved = m < lm;
    const bool take = improved || m <= 0.0f;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        if (improved) loss_min[i] = m;
        if (take) margin_min[i] = m;
    }
    if (!take) return;
    const long long base = (long long)i * d;
    for (int e = threadIdx.x; e < d; e += blockDim.x) best[base + e] = cand[base + e];
}
