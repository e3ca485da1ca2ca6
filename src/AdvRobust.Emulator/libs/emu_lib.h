// Shared plumbing of the emulator's cuBLAS and cuDNN stand-ins (libadvrobust-emu-cublas.so, -cudnn.so):
// the runtime hooks of include/emu_api.h (device-range checks, call counters, initialized-memory marks),
// TF32 rounding, and a per-thread message for the last failure. Device pointers are host pointers.
//
// The hooks are declared weak so these libraries build and test alone. At run time they are found, in order:
// a definition already in the global scope (an executable built with -rdynamic, a library loaded RTLD_GLOBAL),
// else libadvrobust-emu-cuda.so if it is already loaded (beside this library, or by soname; never loaded here).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" {
__attribute__((weak)) int emu_check_device_range(const void* p, size_t bytes, const char* what, char* message,
                                                  size_t message_len);
__attribute__((weak)) void emu_count_library_call(const char* library, const char* function);
__attribute__((weak)) void emu_mark_initialized(const void* p, size_t bytes);
}

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace emu {

struct Hooks {
    int (*check)(const void*, size_t, const char*, char*, size_t);
    void (*count)(const char*, const char*);
    void (*mark)(const void*, size_t);
};

// The runtime's hooks (any of them may be null: then nothing is checked, counted or marked).
const Hooks& hooks();

// Counts one call of `function` in `library` ("cublas" or "cudnn").
void count_call(const char* library, const char* function);

// 0 when [p, p + bytes) lies in one live device allocation (or no runtime is present); otherwise nonzero with
// "<function>: <what> ..." in `message`. A null p with bytes > 0 fails here without the runtime too.
int check_range(const void* p, size_t bytes, const char* function, const char* what, char* message,
                size_t message_len);

void mark_written(const void* p, size_t bytes);

// A float rounded to TF32 (8-bit exponent, 10-bit mantissa), round to nearest with ties away from zero, as
// cvt.rna.tf32.f32 does; the low 13 bits are zero. Inf and NaN pass through.
inline float round_tf32(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & 0xffffe000u;
    float r;
    std::memcpy(&r, &bits, 4);
    return r;
}

// Per-thread text of the last failure (cudnnGetLastErrorString reads it); printf-style.
void set_last_error(const char* format, ...) __attribute__((format(printf, 1, 2)));
const char* last_error();
void clear_last_error();

}  // namespace emu
