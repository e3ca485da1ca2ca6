// emu_selftest.cu — test-only kernels for the CUDA emulator's self-tests (tests/AdvRobust.Tests/Emulator/). Each one
// has exactly one defect the emulator must report (or, for the *_ok twins, none). Compiled by NVRTC through the
// engine's own KernelCache.CompileSource and, for the host, into libadvrobust-emu-kernels.so by ../build.sh.
// Never part of the engine: not under kernels/, not embedded.

// Rotates values through shared memory: out[t] = t + 1 (mod the block), correct only with the barrier.
extern "C" __global__ void emu_test_barrier_ok(float* out)
{
    __shared__ float s[256];
    const int t = threadIdx.x;
    s[t] = (float)t;
    __syncthreads();
    out[t] = s[(t + 1) % blockDim.x];
}

// The same without the barrier: a thread may read a slot its neighbour has not written yet (poison: NaN).
extern "C" __global__ void emu_test_barrier_missing(float* out)
{
    __shared__ float s[256];
    const int t = threadIdx.x;
    s[t] = (float)t;
    out[t] = s[(t + 1) % blockDim.x];
}

// A __syncthreads inside a branch only half the block takes.
extern "C" __global__ void emu_test_barrier_divergent(float* out)
{
    if (threadIdx.x < blockDim.x / 2) __syncthreads();
    out[threadIdx.x] = 1.0f;
}

// Writes element n + threadIdx.x of an n-element buffer: past the end.
extern "C" __global__ void emu_test_out_of_bounds(float* out, int n)
{
    out[n + threadIdx.x] = 1.0f;
}

// Half the warp exits before a full-mask shuffle.
extern "C" __global__ void emu_test_shuffle_exited(float* out)
{
    if (threadIdx.x >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (float)threadIdx.x, 1);
}

// A correct butterfly sum over one warp: every lane gets 0 + 1 + ... + 31 = 496.
extern "C" __global__ void emu_test_shuffle_ok(float* out)
{
    float v = (float)threadIdx.x;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    out[threadIdx.x] = v;
}

// Copies n floats (used on a buffer nothing wrote, and on shared memory nothing wrote).
extern "C" __global__ void emu_test_copy(const float* in, float* out, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = in[i];
}

// Writes only the first half of a shared array, then every thread reads its own slot: the second half is unwritten.
extern "C" __global__ void emu_test_shared_unwritten(float* out)
{
    __shared__ float s[64];
    if (threadIdx.x < 32) s[threadIdx.x] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = s[threadIdx.x];
}

// Declares at most 64 threads per block.
extern "C" __global__ void __launch_bounds__(64) emu_test_bounded(float* out)
{
    out[threadIdx.x] = 2.0f;
}
