// philox.cuh — Philox4x32-10, the device twin of src/AdvRobust.Core/Random/Philox.cs.
//
// A draw is a pure function of (key, counter): element k of global sample g gets the same bits whatever the batch
// split or launch geometry. Counter = (element within its sample, global sample index, stream, purpose),
// key = (seed lo, seed hi). The integer part (philox_block, philox_draw) and the Uniform conversions are
// bit-identical to the C# code; philox_normal uses the device logf/cosf/sqrtf, so it agrees to float rounding only.
// Known answer (Random123 kat_vectors): counter 0, key 0 -> 0x6627e8d5 0xe169c58d 0xbc57ac4c 0x9b00dbd8.
//
// Device code only; included by name ("philox.cuh") after "common.cuh".
#ifndef AR_PHILOX_CUH
#define AR_PHILOX_CUH

// ---- constants ----
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_PURPOSE_ELEMENT 0u  // Philox.PurposeElement
#define PHILOX_PURPOSE_SAMPLE 1u   // Philox.PurposeSample

struct philox4
{
    unsigned int x, y, z, w;
};

// ---- generator ----
// Ten rounds; the key is bumped by the Weyl constants before every round but the first (as in Philox.Block).
__device__ __forceinline__ philox4 philox_block(unsigned int c0, unsigned int c1, unsigned int c2, unsigned int c3,
    unsigned int k0, unsigned int k1)
{
#pragma unroll
    for (int round = 0; round < 10; ++round)
    {
        if (round > 0)
        {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        const unsigned int hi0 = __umulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
        const unsigned int hi1 = __umulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
        const unsigned int n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    philox4 r;
    r.x = c0;
    r.y = c1;
    r.z = c2;
    r.w = c3;
    return r;
}

// The engine's draw for element `element` of global sample `sample` (Philox.Draw).
__device__ __forceinline__ philox4 philox_draw(unsigned long long seed, unsigned int stream, unsigned int purpose,
    unsigned int sample, unsigned int element)
{
    return philox_block(element, sample, stream, purpose, (unsigned int)seed, (unsigned int)(seed >> 32));
}

// ---- conversions ----
// Uniform in [0, 1): 24 random bits times 2^-24, exact in float.
// A step's key read from device memory: words = {seed lo, seed hi, stream, first sample} (Int32[4], written by a
// non-blocking upload before the step), so a step captured as a CUDA graph replays with each call's key; a null
// pointer keeps the kernel's own arguments. Every thread reads the same 16 bytes (served from L1/L2).
__device__ __forceinline__ void philox_key_from(const unsigned int* words, unsigned long long& seed,
    unsigned int& stream, unsigned int& first_sample)
{
    if (words == nullptr) return;
    seed = (unsigned long long)words[0] | ((unsigned long long)words[1] << 32);
    stream = words[2];
    first_sample = words[3];
}

__device__ __forceinline__ float philox_uniform(unsigned int bits) { return (float)(bits >> 8) * (1.0f / 16777216.0f); }

// Uniform in (0, 1], safe for logf.
__device__ __forceinline__ float philox_uniform_open_zero(unsigned int bits)
{
    return (float)((bits >> 8) + 1u) * (1.0f / 16777216.0f);
}

// Standard normal by Box–Muller: sqrt(-2 ln u1) cos(2π u2), u1 in (0, 1]. 2π is rounded to float first, as in C#.
__device__ __forceinline__ float philox_normal(unsigned int bits1, unsigned int bits2)
{
    const float u1 = philox_uniform_open_zero(bits1), u2 = philox_uniform(bits2);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

#endif // AR_PHILOX_CUH
