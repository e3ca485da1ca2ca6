// emu_api.h — the CUDA emulator's own C API, exported by libadvrobust-emu-cuda.so (src/AdvRobust.Emulator/runtime).
//
// Two users:
// - the cuBLAS/cuDNN stand-ins (libs/), which declare the first five functions weak themselves and call them only
//   when they are non-null: range checks of device pointers, call counters, "this library wrote device memory", and
//   handing their work to a stream that captures a graph;
// - the engine's C# reader (src/AdvRobust.Cuda/EmulatorCounters.cs) of the launch/copy/sync counters and regions.
#ifndef ADVROBUST_EMU_API_H
#define ADVROBUST_EMU_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// 0 when [p, p + bytes) lies inside one live device allocation; else nonzero, and `message` (if non-null) names
// `what`, the pointer and the nearest allocation.
int emu_check_device_range(const void* p, size_t bytes, const char* what, char* message, size_t message_len);

// Counts one call of a library function (e.g. "cublas", "cublasSgemm_v2") in the totals and every open region.
void emu_count_library_call(const char* library, const char* function);

// A library wrote [p, p + bytes) of device memory. Fresh allocations are poisoned with 0xFF bytes (NaN), so there is
// no shadow state to update: this only validates the range (a bad one is reported on stderr).
void emu_mark_initialized(const void* p, size_t bytes);

// Library work on a stream (cuBLAS/cuDNN stand-ins): when `stream` is capturing a graph, records a node that calls
// run(arg) at each launch (nonzero = failure) and takes ownership of arg (release(arg) when the graph goes), returning
// 1; returns 0 when the stream is not capturing (the caller runs the work now and keeps arg), and 2 when its capture
// was invalidated (nothing recorded; the caller keeps arg and fails the call).
int emu_stream_submit(void* stream, const char* library, const char* function, int (*run)(void*), void* arg,
                      void (*release)(void*));
// A library call that waits on `stream` (e.g. cudnnFind* timing its candidates): 0 when allowed, 1 when the stream
// is capturing — the capture is then invalidated (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED), as a real wait would.
int emu_stream_sync_point(void* stream, const char* function);

// ---- counters (all uint64; the C# struct mirrors this order) ----
typedef struct EmuCounters
{
    uint64_t kernel_launches;
    uint64_t library_calls;
    uint64_t htod_copies, htod_bytes;
    uint64_t dtoh_copies, dtoh_bytes;
    uint64_t dtod_copies, dtod_bytes;
    uint64_t memsets;
    uint64_t stream_syncs, context_syncs, event_syncs;
    uint64_t allocations, allocated_bytes, frees;
    uint64_t graph_launches;   // cuGraphLaunch calls (the kernels, copies and library work they replay count above)
    uint64_t context_queries;  // cuCtxGetCurrent and cuCtxSetCurrent calls
    uint64_t graph_kernel_launches;  // kernels run by graph launches (also in kernel_launches; the rest the host issued)
    uint64_t event_records;    // cuEventRecord calls (that ran: one replayed from a graph counts when it runs)
    uint64_t stream_waits;     // cuStreamWaitEvent calls (a stream made to wait on another's event)
} EmuCounters;

// Totals when region is null, else the sums inside every open/closed region of that name. 0 ok, 1 unknown region.
int emu_counters_read(const char* region, EmuCounters* out);
// Zeroes the totals and forgets every region (open regions stay open and count from zero).
void emu_counters_reset(void);
// Named regions nest; an event counts in the totals and in every region open at that moment. pop returns 0, or 1
// when no region is open.
void emu_region_push(const char* name);
int emu_region_pop(void);
// The seed of the block schedules (ADVROBUST_EMULATOR_SEED, default 1) and a way to change it for one test.
uint64_t emu_get_seed(void);
void emu_set_seed(uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif // ADVROBUST_EMU_API_H
