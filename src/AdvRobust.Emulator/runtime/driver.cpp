// driver.cpp — the CUDA driver API surface of libadvrobust-emu-cuda.so that is not memory or modules: errors,
// versions, the one emulated device (sm_90), its primary context, streams and events. Work on a stream runs
// synchronously when it is issued (a legal CUDA schedule), so synchronizing only counts, and event times are the
// host's (stream capture and graphs: graph.cpp). Handles are checked: an unknown stream or event is CUDA_ERROR_INVALID_HANDLE, work without a current context
// is CUDA_ERROR_INVALID_CONTEXT.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <chrono>
#include <mutex>
#include <set>
#include "emu_runtime.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace
{
struct Context { int retains = 0; };
struct Stream { int id; };
struct Event { double ms = -1; };

bool g_init = false;
Context g_primary;
thread_local Context* t_current = nullptr;
std::mutex g_gate;
std::set<void*> g_streams, g_events;
thread_local int t_last_code = 0;
thread_local std::string t_last_message;
int g_pool_tag;

const char* generic(int code, const char** name)
{
    switch (code)
    {
#define E(c, n, t) case c: *name = n; return t;
        E(0, "CUDA_SUCCESS", "no error")
        E(1, "CUDA_ERROR_INVALID_VALUE", "invalid argument")
        E(2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory")
        E(3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error")
        E(100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected")
        E(101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal")
        E(200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid")
        E(201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context")
        E(400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle")
        E(401, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state")
        E(500, "CUDA_ERROR_NOT_FOUND", "named symbol not found")
        E(700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered")
        E(701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch")
        E(715, "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered")
        E(719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure")
        E(801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported")
        E(900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing")
        E(901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture")
        E(908, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD", "attempt to terminate a thread-local capture sequence from "
                                                        "another thread")
        E(999, "CUDA_ERROR_UNKNOWN", "unknown error")
#undef E
    default: *name = nullptr; return nullptr;
    }
}

double now_ms()
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
} // namespace

int emu_fail(int code, const char* fmt, ...)
{
    char detail[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    const char* name;
    const char* text = generic(code, &name);
    t_last_code = code;
    t_last_message = std::string(text ? text : "error") + " [CUDA emulator: " + detail + "]";
    return code;
}

const char* emu_last_detail(int code) { return code == t_last_code ? t_last_message.c_str() : nullptr; }
bool emu_initialized() { return g_init; }

int emu_require_context(const char* call)
{
    if (!g_init) return emu_fail(EMU_NOT_INITIALIZED, "%s before cuInit", call);
    if (!t_current) return emu_fail(EMU_INVALID_CONTEXT, "%s: no context is current on this thread", call);
    return EMU_SUCCESS;
}

int emu_check_stream(void* stream, const char* call)
{
    if (!stream) return EMU_SUCCESS;
    std::lock_guard<std::mutex> lock(g_gate);
    return g_streams.count(stream) ? EMU_SUCCESS
                                   : emu_fail(EMU_INVALID_HANDLE, "%s: stream %p is not a live stream", call, stream);
}

EXPORT int cuInit(unsigned int flags)
{
    if (flags != 0) return emu_fail(EMU_INVALID_VALUE, "cuInit: flags must be 0, got %u", flags);
    g_init = true;
    return EMU_SUCCESS;
}
EXPORT int cuDriverGetVersion(int* v) { *v = 13000; return EMU_SUCCESS; }
EXPORT int cuGetErrorName(int code, const char** out)
{
    const char* name;
    generic(code, &name);
    *out = name;
    return name ? EMU_SUCCESS : EMU_INVALID_VALUE;
}
EXPORT int cuGetErrorString(int code, const char** out)
{
    const char* name;
    const char* text = generic(code, &name);
    const char* detail = emu_last_detail(code);
    *out = detail ? detail : text;
    return text ? EMU_SUCCESS : EMU_INVALID_VALUE;
}

// ---- the device: an sm_90 part with H100-like clocks (the benchmarks' napkin math uses them) ----
EXPORT int cuDeviceGetCount(int* count)
{
    if (!g_init) return emu_fail(EMU_NOT_INITIALIZED, "cuDeviceGetCount before cuInit");
    *count = 1;
    return EMU_SUCCESS;
}
EXPORT int cuDeviceGet(int* dev, int ordinal)
{
    if (!g_init) return emu_fail(EMU_NOT_INITIALIZED, "cuDeviceGet before cuInit");
    if (ordinal != 0) return emu_fail(EMU_INVALID_DEVICE, "cuDeviceGet: ordinal %d (the emulator has device 0)", ordinal);
    *dev = 0;
    return EMU_SUCCESS;
}
EXPORT int cuDeviceGetName(char* name, int len, int dev)
{
    if (dev != 0) return emu_fail(EMU_INVALID_DEVICE, "cuDeviceGetName: device %d", dev);
    snprintf(name, (size_t)len, "AdvRobust CUDA emulator (sm_90)");
    return EMU_SUCCESS;
}
EXPORT int cuDeviceGetAttribute(int* v, int attr, int dev)
{
    if (dev != 0) return emu_fail(EMU_INVALID_DEVICE, "cuDeviceGetAttribute: device %d", dev);
    const char* sms = getenv("ADVROBUST_EMULATOR_SMS");
    switch (attr)
    {
    case 1: *v = 1024; break;                                 // max threads per block
    case 13: *v = 1980000; break;                             // clock, kHz
    case 16: *v = sms && *sms ? atoi(sms) : 4; break;         // multiprocessors: small grids keep emulation quick
    case 36: *v = 2619000; break;                             // memory clock, kHz
    case 37: *v = 5120; break;                                // bus width, bits
    case 38: *v = 50 << 20; break;                            // L2 bytes
    case 75: *v = 9; break;                                   // compute capability
    case 76: *v = 0; break;
    case 97: *v = 232448; break;                              // max opt-in shared memory per block
    case 115: *v = 1; break;                                  // memory pools supported
    default: return emu_fail(EMU_INVALID_VALUE, "cuDeviceGetAttribute: attribute %d is not emulated", attr);
    }
    return EMU_SUCCESS;
}
EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int dev)
{
    if (dev != 0) return emu_fail(EMU_INVALID_DEVICE, "cuDeviceTotalMem_v2: device %d", dev);
    *bytes = emu_device_total_bytes();
    return EMU_SUCCESS;
}

// ---- primary context ----
EXPORT int cuDevicePrimaryCtxRetain(void** ctx, int dev)
{
    if (!g_init) return emu_fail(EMU_NOT_INITIALIZED, "cuDevicePrimaryCtxRetain before cuInit");
    if (dev != 0) return emu_fail(EMU_INVALID_DEVICE, "cuDevicePrimaryCtxRetain: device %d", dev);
    std::lock_guard<std::mutex> lock(g_gate);
    g_primary.retains++;
    *ctx = &g_primary;
    return EMU_SUCCESS;
}
EXPORT int cuDevicePrimaryCtxRelease_v2(int dev)
{
    if (dev != 0) return emu_fail(EMU_INVALID_DEVICE, "cuDevicePrimaryCtxRelease_v2: device %d", dev);
    std::lock_guard<std::mutex> lock(g_gate);
    if (g_primary.retains <= 0) return emu_fail(EMU_INVALID_CONTEXT, "cuDevicePrimaryCtxRelease_v2: not retained");
    g_primary.retains--;
    return EMU_SUCCESS;
}
EXPORT int cuCtxSetCurrent(void* ctx)
{
    if (ctx && ctx != &g_primary) return emu_fail(EMU_INVALID_CONTEXT, "cuCtxSetCurrent: %p is not a context", ctx);
    emu_count(C_CONTEXT_QUERIES);
    t_current = (Context*)ctx;
    return EMU_SUCCESS;
}
EXPORT int cuCtxGetCurrent(void** ctx)
{
    emu_count(C_CONTEXT_QUERIES);
    *ctx = t_current;
    return EMU_SUCCESS;
}
EXPORT int cuCtxSynchronize()
{
    if (int r = emu_require_context("cuCtxSynchronize")) return r;
    if (int r = emu_capture_forbid_unsafe("cuCtxSynchronize")) return r;
    emu_count(C_CONTEXT_SYNCS);
    return EMU_SUCCESS;
}

// ---- streams and events ----
EXPORT int cuStreamCreate(void** stream, unsigned int flags)
{
    if (int r = emu_require_context("cuStreamCreate")) return r;
    (void)flags;
    std::lock_guard<std::mutex> lock(g_gate);
    static int next = 1;
    auto* s = new Stream{next++};
    g_streams.insert(s);
    *stream = s;
    return EMU_SUCCESS;
}
EXPORT int cuStreamDestroy_v2(void* stream)
{
    std::lock_guard<std::mutex> lock(g_gate);
    if (!g_streams.erase(stream)) return emu_fail(EMU_INVALID_HANDLE, "cuStreamDestroy_v2: %p is not a live stream", stream);
    delete (Stream*)stream;
    return EMU_SUCCESS;
}
EXPORT int cuStreamSynchronize(void* stream)
{
    if (int r = emu_check_stream(stream, "cuStreamSynchronize")) return r;
    if (int r = emu_capture_sync_point(stream, "cuStreamSynchronize")) return r;
    emu_count(C_STREAM_SYNCS);
    return EMU_SUCCESS;
}
EXPORT int cuEventCreate(void** event, unsigned int flags)
{
    if (int r = emu_require_context("cuEventCreate")) return r;
    (void)flags;
    std::lock_guard<std::mutex> lock(g_gate);
    auto* e = new Event();
    g_events.insert(e);
    *event = e;
    return EMU_SUCCESS;
}
EXPORT int cuEventDestroy_v2(void* event)
{
    std::lock_guard<std::mutex> lock(g_gate);
    if (!g_events.erase(event)) return emu_fail(EMU_INVALID_HANDLE, "cuEventDestroy_v2: %p is not a live event", event);
    delete (Event*)event;
    return EMU_SUCCESS;
}
EXPORT int cuEventRecord(void* event, void* stream)
{
    if (int r = emu_check_stream(stream, "cuEventRecord")) return r;
    std::lock_guard<std::mutex> lock(g_gate);
    if (!g_events.count(event)) return emu_fail(EMU_INVALID_HANDLE, "cuEventRecord: %p is not a live event", event);
    auto work = [event] {
        ((Event*)event)->ms = now_ms();
        emu_count(C_EVENT_RECORDS);
        return (int)EMU_SUCCESS;
    };
    int r;
    return emu_capture_node(stream, "cuEventRecord", work, &r) ? r : work();
}
// Work runs when it is issued, so the event's work is done already and the wait orders nothing; it checks the handles
// and counts (a capturing stream records it as an empty node).
EXPORT int cuStreamWaitEvent(void* stream, void* event, unsigned int flags)
{
    if (int r = emu_check_stream(stream, "cuStreamWaitEvent")) return r;
    std::lock_guard<std::mutex> lock(g_gate);
    if (!g_events.count(event)) return emu_fail(EMU_INVALID_HANDLE, "cuStreamWaitEvent: %p is not a live event", event);
    if (flags != 0) return emu_fail(EMU_INVALID_VALUE, "cuStreamWaitEvent: flags must be 0 (CU_EVENT_WAIT_DEFAULT), got %u", flags);
    auto work = [] {
        emu_count(C_STREAM_WAITS);
        return (int)EMU_SUCCESS;
    };
    int r;
    return emu_capture_node(stream, "cuStreamWaitEvent", work, &r) ? r : work();
}
EXPORT int cuEventSynchronize(void* event)
{
    std::lock_guard<std::mutex> lock(g_gate);
    if (!g_events.count(event)) return emu_fail(EMU_INVALID_HANDLE, "cuEventSynchronize: %p is not a live event", event);
    emu_count(C_EVENT_SYNCS);
    return EMU_SUCCESS;
}
EXPORT int cuEventQuery(void* event)
{
    std::lock_guard<std::mutex> lock(g_gate);
    if (!g_events.count(event)) return emu_fail(EMU_INVALID_HANDLE, "cuEventQuery: %p is not a live event", event);
    return EMU_SUCCESS;  // work runs when it is issued, so every recorded event has completed
}
EXPORT int cuEventElapsedTime_v2(float* ms, void* start, void* end)
{
    std::lock_guard<std::mutex> lock(g_gate);
    if (!g_events.count(start) || !g_events.count(end))
        return emu_fail(EMU_INVALID_HANDLE, "cuEventElapsedTime: an event is not live");
    auto *a = (Event*)start, *b = (Event*)end;
    if (a->ms < 0 || b->ms < 0) return emu_fail(EMU_INVALID_HANDLE, "cuEventElapsedTime: an event was never recorded");
    *ms = (float)(b->ms - a->ms);
    return EMU_SUCCESS;
}
EXPORT int cuEventElapsedTime(float* ms, void* start, void* end) { return cuEventElapsedTime_v2(ms, start, end); }

// ---- the default memory pool: the allocator itself; attributes report live bytes ----
EXPORT int cuDeviceGetDefaultMemPool(void** pool, int dev)
{
    if (dev != 0) return emu_fail(EMU_INVALID_DEVICE, "cuDeviceGetDefaultMemPool: device %d", dev);
    *pool = &g_pool_tag;
    return EMU_SUCCESS;
}
EXPORT int cuMemPoolSetAttribute(void* pool, int attr, void* value)
{
    if (pool != &g_pool_tag) return emu_fail(EMU_INVALID_HANDLE, "cuMemPoolSetAttribute: unknown pool %p", pool);
    if (attr != 4 || !value) return emu_fail(EMU_INVALID_VALUE, "cuMemPoolSetAttribute: attribute %d is not emulated", attr);
    return EMU_SUCCESS;
}
EXPORT int cuMemPoolGetAttribute(void* pool, int attr, void* value)
{
    if (pool != &g_pool_tag) return emu_fail(EMU_INVALID_HANDLE, "cuMemPoolGetAttribute: unknown pool %p", pool);
    if (attr != 5 && attr != 7) return emu_fail(EMU_INVALID_VALUE, "cuMemPoolGetAttribute: attribute %d is not emulated", attr);
    *(uint64_t*)value = emu_device_used_bytes();
    return EMU_SUCCESS;
}
EXPORT int cuMemPoolTrimTo(void* pool, size_t keep)
{
    (void)keep;
    return pool == &g_pool_tag ? EMU_SUCCESS : emu_fail(EMU_INVALID_HANDLE, "cuMemPoolTrimTo: unknown pool %p", pool);
}
