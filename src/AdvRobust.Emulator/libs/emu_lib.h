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
#include <utility>

extern "C" {
__attribute__((weak)) int emu_check_device_range(const void* p, size_t bytes, const char* what, char* message,
                                                  size_t message_len);
__attribute__((weak)) void emu_count_library_call(const char* library, const char* function);
__attribute__((weak)) void emu_mark_initialized(const void* p, size_t bytes);
__attribute__((weak)) int emu_stream_submit(void* stream, const char* library, const char* function,
                                            int (*run)(void*), void* arg, void (*release)(void*));
__attribute__((weak)) int emu_stream_sync_point(void* stream, const char* function);
}

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace emu {

struct Hooks {
    int (*check)(const void*, size_t, const char*, char*, size_t);
    void (*count)(const char*, const char*);
    void (*mark)(const void*, size_t);
    int (*submit)(void*, const char*, const char*, int (*)(void*), void*, void (*)(void*));
    int (*sync_point)(void*, const char*);
};

// What submit returns when the stream's graph capture was invalidated (the work neither ran nor was recorded).
constexpr int CaptureInvalidated = -1;

// The runtime's hooks (any of them may be null: then nothing is checked, counted or marked).
const Hooks& hooks();

// Counts one call of `function` in `library` ("cublas" or "cudnn").
void count_call(const char* library, const char* function);

// 0 when [p, p + bytes) lies in one live device allocation (or no runtime is present); otherwise nonzero with
// "<function>: <what> ..." in `message`. A null p with bytes > 0 fails here without the runtime too.
int check_range(const void* p, size_t bytes, const char* function, const char* what, char* message,
                size_t message_len);

void mark_written(const void* p, size_t bytes);

// Runs `work` (returning a library status, 0 = success) now, or, when `stream` is capturing a CUDA graph, hands a copy
// of it to the runtime as a graph node that runs at every cuGraphLaunch; `work` must therefore hold copies of the
// descriptors and scalars it uses, not pointers to the caller's. Returns work's status, 0 when recorded, or
// CaptureInvalidated.
template <class F>
int submit(void* stream, const char* library, const char* function, F work) {
    if (hooks().submit == nullptr) return work();
    F* held = new F(std::move(work));
    int r = hooks().submit(
        stream, library, function, [](void* a) { return (*static_cast<F*>(a))(); }, held,
        [](void* a) { delete static_cast<F*>(a); });
    if (r == 1) return 0;
    int status = r == 0 ? (*held)() : CaptureInvalidated;
    delete held;
    return status;
}

// True when `stream` is capturing a graph, which a call that waits on it (cudnnFind*) invalidates: the caller fails.
bool sync_refused(void* stream, const char* function);

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
