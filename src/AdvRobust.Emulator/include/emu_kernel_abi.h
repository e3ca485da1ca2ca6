// emu_kernel_abi.h — what host-compiled kernels call in the emulator runtime (libadvrobust-emu-cuda.so), and the
// registry the kernels library exports. Used by cuda_emu.h (kernel side) and runtime/ (scheduler side) only.
#ifndef ADVROBUST_EMU_KERNEL_ABI_H
#define ADVROBUST_EMU_KERNEL_ABI_H

#include <stdint.h>

struct uint3
{
    unsigned int x, y, z;
};

struct dim3
{
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The built-in variables of the running fiber (one CUDA thread).
struct EmuThreadVars
{
    uint3 thread_idx, block_idx;
    dim3 block_dim, grid_dim;
};

enum EmuWarpOp
{
    EMU_SHFL_IDX = 0, EMU_SHFL_UP, EMU_SHFL_DOWN, EMU_SHFL_XOR,
    EMU_VOTE_ALL, EMU_VOTE_ANY, EMU_VOTE_BALLOT, EMU_SYNCWARP
};

extern "C"
{
    // `const`: for the fiber that calls it the answer never changes (each CUDA thread is its own fiber and sees only
    // its own variables), so the compiler may hoist it out of grid-stride loops instead of calling it per element.
    const EmuThreadVars* emu_thread_vars(void) __attribute__((const));
    // A block-wide barrier; `site` is "file:line" of the __syncthreads.
    void emu_syncthreads(const char* site);
    // A warp collective: waits for every lane named in mask, then returns this lane's result.
    uint64_t emu_warp_op(int op, unsigned int mask, uint64_t value, int arg, int width, const char* site);
    // Fails the launch from inside a kernel (trap, assert).
    [[noreturn]] void emu_kernel_trap(const char* site, const char* what);
}

// One extern "C" __global__ function of the kernels library: its name, a trampoline that unpacks cuLaunchKernel's
// void** kernelParams, and the size of each parameter (checked against the cubin's parameter table).
struct EmuKernelEntry
{
    const char* name;
    void (*run)(void** params);
    int param_count;
    const unsigned short* param_sizes;
};

typedef const EmuKernelEntry* (*EmuRegistryFn)(int* count);
typedef void* (*EmuTlsAnchorFn)(void);

#endif // ADVROBUST_EMU_KERNEL_ABI_H
