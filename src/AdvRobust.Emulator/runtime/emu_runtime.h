// emu_runtime.h — internal declarations shared by the runtime's files (driver, memory, module, scheduler, counters).
#ifndef ADVROBUST_EMU_RUNTIME_H
#define ADVROBUST_EMU_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <functional>
#include <string>
#include <vector>
#include "../include/emu_api.h"
#include "../include/emu_kernel_abi.h"

// CUresult values the emulator returns (cuda.h).
enum EmuResult
{
    EMU_SUCCESS = 0, EMU_INVALID_VALUE = 1, EMU_OUT_OF_MEMORY = 2, EMU_NOT_INITIALIZED = 3,
    EMU_NO_DEVICE = 100, EMU_INVALID_DEVICE = 101, EMU_INVALID_IMAGE = 200, EMU_INVALID_CONTEXT = 201,
    EMU_INVALID_HANDLE = 400, EMU_ILLEGAL_STATE = 401, EMU_NOT_FOUND = 500, EMU_ILLEGAL_ADDRESS = 700, EMU_LAUNCH_OUT_OF_RESOURCES = 701,
    EMU_ILLEGAL_INSTRUCTION = 715, EMU_LAUNCH_FAILED = 719, EMU_NOT_SUPPORTED = 801,
    EMU_STREAM_CAPTURE_UNSUPPORTED = 900, EMU_STREAM_CAPTURE_INVALIDATED = 901, EMU_STREAM_CAPTURE_WRONG_THREAD = 908,
    EMU_UNKNOWN = 999,
};

// Records the detailed message that cuGetErrorString returns for `code` on this thread, and returns code.
int emu_fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
const char* emu_last_detail(int code);

// ---- context checks (driver.cpp) ----
bool emu_initialized();
int emu_require_context(const char* call);  // EMU_SUCCESS or the error, recorded
int emu_check_stream(void* stream, const char* call);

// ---- memory (memory.cpp) ----
uint64_t emu_device_total_bytes();
uint64_t emu_device_used_bytes();
// Describes an address for a fault message: inside/near which allocation.
std::string emu_describe_address(uintptr_t address);
// After a launch: checks the canary bytes beside every allocation; "" or a message naming the allocation.
std::string emu_check_canaries();
// Frees an allocation that a graph owned (or a recorded free node names), without the capture checks.
int emu_memory_release_owned(uint64_t p);

// ---- stream capture (graph.cpp) ----
// Whether `stream` is capturing (or was, and the capture is invalidated); cheap when no capture is open.
bool emu_capturing(void* stream);
// When `stream` is capturing: records `node` (or, if the capture was invalidated, fails) into *result and returns
// true; returns false when it is not capturing (the caller runs the work now).
bool emu_capture_node(void* stream, const char* what, std::function<int()> node, int* result);
// `call` waits on `stream`: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidation when it is capturing, else success.
int emu_capture_sync_point(void* stream, const char* call);
// `call` is unsafe under capture modes GLOBAL/THREAD_LOCAL: fails and invalidates when this thread is capturing.
int emu_capture_forbid_unsafe(const char* call);
// cuMemAllocAsync on a capturing stream: remembers p (returns true) so that a free in the same capture hands it to
// the graph; false when the stream is not capturing.
bool emu_capture_allocated(void* stream, uint64_t p);
// cuMemFreeAsync on a capturing stream: true with *result set (recorded or handed to the graph), false otherwise.
bool emu_capture_free(void* stream, uint64_t p, int* result);

// ---- counters (counters.cpp) ----
enum EmuCounterField
{
    C_LAUNCHES, C_LIBRARY_CALLS, C_HTOD, C_HTOD_BYTES, C_DTOH, C_DTOH_BYTES, C_DTOD, C_DTOD_BYTES, C_MEMSETS,
    C_STREAM_SYNCS, C_CONTEXT_SYNCS, C_EVENT_SYNCS, C_ALLOCS, C_ALLOC_BYTES, C_FREES, C_GRAPH_LAUNCHES,
    C_CONTEXT_QUERIES, C_GRAPH_KERNEL_LAUNCHES, C_EVENT_RECORDS, C_STREAM_WAITS, C_FIELD_COUNT
};
void emu_count(EmuCounterField field, uint64_t amount = 1);
// Takes back one count of field in the totals and every open region (a call counted on entry that turned out to be
// recorded into a graph: it counts when it runs).
void emu_uncount(EmuCounterField field);

// ---- kernels (module.cpp) ----
struct EmuFunction
{
    std::string name;
    const EmuKernelEntry* host;       // the host-compiled kernel
    int registers;                    // per thread, from the cubin
    int static_shared;                // bytes, from the cubin (.nv.shared.<name>)
    int max_threads;                  // __launch_bounds__ (EIATTR_MAX_THREADS), or 1024
};

// ---- scheduler (scheduler.cpp) ----
// Runs every block of a launch; returns EMU_SUCCESS or the failure (message recorded).
int emu_run_grid(const EmuFunction& fn, dim3 grid, dim3 block, void** params);
uint64_t emu_seed();

#endif // ADVROBUST_EMU_RUNTIME_H
