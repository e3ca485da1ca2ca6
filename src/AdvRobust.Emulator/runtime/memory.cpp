// memory.cpp — device memory. A device pointer is a host address. Each allocation gets its own mapping with an
// inaccessible guard page on each side, its end placed against the upper guard (16-byte aligned start), and is
// poisoned with 0xFF bytes (a NaN as float) so that reading memory nothing wrote shows up. The few slack bytes between
// the end and the guard page, and 64 bytes before the start, hold a canary checked after every launch. Freed memory is
// unmapped, so a later access faults (use after free). Copies and memsets check that their device range lies inside
// one live allocation. The stream-ordered pool is the same allocator (its counters report live bytes). Freed mappings
// are kept inaccessible (so a use after free still faults) and reused for a later allocation of the same size, which
// spares the host's page faults and zeroing; at most 512 MiB are kept. Under stream capture (graph.cpp) allocations
// and frees become graph memory nodes, and copies and memsets graph nodes.
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <vector>
#include "emu_runtime.h"

namespace
{
struct Allocation
{
    size_t bytes;
    char* map_base;
    size_t map_len;
};

constexpr size_t kPage = 4096, kAlign = 16, kFront = 64;
constexpr unsigned char kPoison = 0xFF, kCanary = 0xA5;
std::shared_mutex g_gate;
std::map<uintptr_t, Allocation> g_allocations;  // by start address
uint64_t g_used = 0;
std::map<size_t, std::vector<char*>> g_unused;  // inaccessible mappings by length, for reuse
size_t g_unused_bytes = 0;
constexpr size_t kKeepUnused = 512u << 20;

// A mapping of `len` bytes whose middle `span` bytes are read-write; reuses a freed one of that length if any.
char* map_region(size_t len, size_t span)
{
    char* base = nullptr;
    {
        std::unique_lock<std::shared_mutex> lock(g_gate);
        auto it = g_unused.find(len);
        if (it != g_unused.end() && !it->second.empty())
        {
            base = it->second.front();
            it->second.erase(it->second.begin());
            g_unused_bytes -= len;
        }
    }
    if (!base)
    {
        base = (char*)mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED) return nullptr;
    }
    if (mprotect(base + kPage, span, PROT_READ | PROT_WRITE) != 0)
    {
        munmap(base, len);
        return nullptr;
    }
    return base;
}

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// The allocation containing [p, p + bytes), or end().
std::map<uintptr_t, Allocation>::iterator find(uintptr_t p, size_t bytes)
{
    auto it = g_allocations.upper_bound(p);
    if (it == g_allocations.begin()) return g_allocations.end();
    --it;
    return p + bytes <= it->first + it->second.bytes && p >= it->first ? it : g_allocations.end();
}

int check_range(uint64_t p, size_t bytes, const char* call, const char* what)
{
    {
        std::shared_lock<std::shared_mutex> lock(g_gate);
        if (find((uintptr_t)p, bytes) != g_allocations.end()) return EMU_SUCCESS;
    }
    return emu_fail(EMU_INVALID_VALUE, "%s: %s [0x%llx, +%zu bytes) is not inside one live device allocation (%s)",
                    call, what, (unsigned long long)p, bytes, emu_describe_address((uintptr_t)p).c_str());
}

int allocate(uint64_t* dptr, size_t bytes, const char* call)
{
    if (!dptr) return emu_fail(EMU_INVALID_VALUE, "%s: dptr is null", call);
    if (bytes == 0) return emu_fail(EMU_INVALID_VALUE, "%s: zero bytes requested", call);
    if (bytes > emu_device_total_bytes() - emu_device_used_bytes())
        return emu_fail(EMU_OUT_OF_MEMORY, "%s: %zu bytes requested, %llu of %llu bytes free on the emulated device", call,
                        bytes, (unsigned long long)(emu_device_total_bytes() - emu_device_used_bytes()),
                        (unsigned long long)emu_device_total_bytes());
    size_t span = round_up(round_up(bytes, kAlign) + kFront, kPage);
    size_t len = span + 2 * kPage;
    char* base = map_region(len, span);
    if (!base) return emu_fail(EMU_OUT_OF_MEMORY, "%s: the host could not map %zu bytes", call, len);
    char* data = base + kPage + span - round_up(bytes, kAlign);
    memset(data - kFront, kCanary, kFront);
    memset(data, kPoison, bytes);
    memset(data + bytes, kCanary, round_up(bytes, kAlign) - bytes);
    {
        std::unique_lock<std::shared_mutex> lock(g_gate);
        g_allocations[(uintptr_t)data] = {bytes, base, len};
        g_used += bytes;
    }
    emu_count(C_ALLOCS);
    emu_count(C_ALLOC_BYTES, bytes);
    *dptr = (uint64_t)(uintptr_t)data;
    return EMU_SUCCESS;
}

int release(uint64_t p, const char* call)
{
    std::unique_lock<std::shared_mutex> lock(g_gate);
    auto it = g_allocations.find((uintptr_t)p);
    if (it == g_allocations.end())
        return emu_fail(EMU_INVALID_VALUE, "%s: 0x%llx is not the start of a live device allocation (double free?)",
                        call, (unsigned long long)p);
    Allocation a = it->second;
    if (g_unused_bytes + a.map_len <= kKeepUnused)
    {
        mprotect(a.map_base, a.map_len, PROT_NONE);
        g_unused[a.map_len].push_back(a.map_base);
        g_unused_bytes += a.map_len;
    }
    else
        munmap(a.map_base, a.map_len);
    g_used -= it->second.bytes;
    g_allocations.erase(it);
    emu_count(C_FREES);
    return EMU_SUCCESS;
}

#define REQUIRE(call)                                                                                                 \
    do                                                                                                                \
    {                                                                                                                 \
        int r_ = emu_require_context(call);                                                                           \
        if (r_) return r_;                                                                                            \
    } while (0)
#define STREAM(s, call)                                                                                               \
    do                                                                                                                \
    {                                                                                                                 \
        int r_ = emu_check_stream((void*)(s), call);                                                                  \
        if (r_) return r_;                                                                                            \
    } while (0)
} // namespace

uint64_t emu_device_used_bytes()
{
    std::shared_lock<std::shared_mutex> lock(g_gate);
    return g_used;
}

uint64_t emu_device_total_bytes()
{
    static uint64_t total = [] {
        const char* env = getenv("ADVROBUST_EMULATOR_MEMORY_MB");
        if (env && *env) return (uint64_t)atoll(env) << 20;
        uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
        return std::min<uint64_t>(host / 2, 16ull << 30);
    }();
    return total;
}

std::string emu_describe_address(uintptr_t a)
{
    std::shared_lock<std::shared_mutex> lock(g_gate, std::try_to_lock);
    if (!lock.owns_lock()) return "allocation table busy";
    char text[200];
    auto it = g_allocations.upper_bound(a);
    if (it != g_allocations.end() && it->first - a <= kPage + kFront)
    {
        snprintf(text, sizeof text, "%zu bytes before the device allocation of %zu bytes at 0x%zx", (size_t)(it->first - a),
                 it->second.bytes, (size_t)it->first);
        return text;
    }
    if (it != g_allocations.begin())
    {
        --it;
        if (a < it->first + it->second.bytes)
            snprintf(text, sizeof text, "inside the device allocation of %zu bytes at 0x%zx", it->second.bytes, (size_t)it->first);
        else if (a - (it->first + it->second.bytes) <= kPage + kAlign)
            snprintf(text, sizeof text, "%zu bytes past the end of the device allocation of %zu bytes at 0x%zx",
                     (size_t)(a - it->first - it->second.bytes), it->second.bytes, (size_t)it->first);
        else
            snprintf(text, sizeof text, "not in any live device allocation");
        return text;
    }
    return "not in any live device allocation";
}

int emu_memory_release_owned(uint64_t p) { return release(p, "graph memory"); }

std::string emu_check_canaries()
{
    std::shared_lock<std::shared_mutex> lock(g_gate);
    for (auto& [start, a] : g_allocations)
    {
        const unsigned char* p = (const unsigned char*)start;
        size_t tail = round_up(a.bytes, kAlign) - a.bytes;
        for (size_t i = 0; i < kFront; i++)
            if (p[(ptrdiff_t)i - (ptrdiff_t)kFront] != kCanary)
                return "wrote " + std::to_string(kFront - i) + " bytes before the device allocation of " +
                       std::to_string(a.bytes) + " bytes at " + std::to_string(start);
        for (size_t i = 0; i < tail; i++)
            if (p[a.bytes + i] != kCanary)
                return "wrote " + std::to_string(i + 1) + " bytes past the end of the device allocation of " +
                       std::to_string(a.bytes) + " bytes at " + std::to_string(start);
    }
    return "";
}

extern "C" {
#define EXPORT __attribute__((visibility("default")))
EXPORT int cuMemAlloc_v2(uint64_t* dptr, size_t bytes)
{
    REQUIRE("cuMemAlloc_v2");
    if (int r = emu_capture_forbid_unsafe("cuMemAlloc_v2")) return r;
    return allocate(dptr, bytes, "cuMemAlloc_v2");
}
EXPORT int cuMemFree_v2(uint64_t p)
{
    REQUIRE("cuMemFree_v2");
    if (int r = emu_capture_forbid_unsafe("cuMemFree_v2")) return r;
    return release(p, "cuMemFree_v2");
}
EXPORT int cuMemAllocAsync(uint64_t* dptr, size_t bytes, void* s)
{
    REQUIRE("cuMemAllocAsync");
    STREAM(s, "cuMemAllocAsync");
    int r;
    if (emu_capture_node(s, "cuMemAllocAsync", [] { return (int)EMU_SUCCESS; }, &r) && r) return r;
    if ((r = allocate(dptr, bytes, "cuMemAllocAsync"))) return r;
    emu_capture_allocated(s, *dptr);  // a graph memory node: allocated now, the same address in every replay
    return EMU_SUCCESS;
}
EXPORT int cuMemFreeAsync(uint64_t p, void* s)
{
    REQUIRE("cuMemFreeAsync");
    STREAM(s, "cuMemFreeAsync");
    int r;
    if (emu_capture_free(s, p, &r)) return r;
    return release(p, "cuMemFreeAsync");
}
EXPORT int cuMemAllocHost_v2(void** pp, size_t bytes)
{
    REQUIRE("cuMemAllocHost_v2");
    if (int r = emu_capture_forbid_unsafe("cuMemAllocHost_v2")) return r;
    if (!pp || bytes == 0) return emu_fail(EMU_INVALID_VALUE, "cuMemAllocHost_v2: null pointer or zero bytes");
    *pp = malloc(bytes);
    return *pp ? EMU_SUCCESS : emu_fail(EMU_OUT_OF_MEMORY, "cuMemAllocHost_v2: %zu bytes", bytes);
}
EXPORT int cuMemFreeHost(void* p) { free(p); return EMU_SUCCESS; }
EXPORT int cuMemGetInfo_v2(size_t* free_bytes, size_t* total)
{
    REQUIRE("cuMemGetInfo_v2");
    *total = emu_device_total_bytes();
    *free_bytes = *total - emu_device_used_bytes();
    return EMU_SUCCESS;
}
// Copies and memsets run now, or are recorded as graph nodes when the stream captures (the ranges are checked now
// and again at each replay; a host-to-device node reads the host buffer at replay time, as a real memcpy node does).
EXPORT int cuMemcpyHtoDAsync_v2(uint64_t dst, const void* src, size_t n, void* s)
{
    REQUIRE("cuMemcpyHtoDAsync_v2");
    STREAM(s, "cuMemcpyHtoDAsync_v2");
    if (int r = check_range(dst, n, "cuMemcpyHtoDAsync_v2", "destination")) return r;
    auto work = [=] {
        if (int r = check_range(dst, n, "cuMemcpyHtoDAsync_v2", "destination")) return r;
        memcpy((void*)(uintptr_t)dst, src, n);
        emu_count(C_HTOD);
        emu_count(C_HTOD_BYTES, n);
        return (int)EMU_SUCCESS;
    };
    int r;
    return emu_capture_node(s, "cuMemcpyHtoDAsync_v2", work, &r) ? r : work();
}
EXPORT int cuMemcpyDtoHAsync_v2(void* dst, uint64_t src, size_t n, void* s)
{
    REQUIRE("cuMemcpyDtoHAsync_v2");
    STREAM(s, "cuMemcpyDtoHAsync_v2");
    if (int r = check_range(src, n, "cuMemcpyDtoHAsync_v2", "source")) return r;
    auto work = [=] {
        if (int r = check_range(src, n, "cuMemcpyDtoHAsync_v2", "source")) return r;
        memcpy(dst, (const void*)(uintptr_t)src, n);
        emu_count(C_DTOH);
        emu_count(C_DTOH_BYTES, n);
        return (int)EMU_SUCCESS;
    };
    int r;
    return emu_capture_node(s, "cuMemcpyDtoHAsync_v2", work, &r) ? r : work();
}
EXPORT int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t n, void* s)
{
    REQUIRE("cuMemcpyDtoDAsync_v2");
    STREAM(s, "cuMemcpyDtoDAsync_v2");
    auto work = [=] {
        if (int r = check_range(src, n, "cuMemcpyDtoDAsync_v2", "source")) return r;
        if (int r = check_range(dst, n, "cuMemcpyDtoDAsync_v2", "destination")) return r;
        memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, n);
        emu_count(C_DTOD);
        emu_count(C_DTOD_BYTES, n);
        return (int)EMU_SUCCESS;
    };
    if (int r = check_range(src, n, "cuMemcpyDtoDAsync_v2", "source")) return r;
    if (int r = check_range(dst, n, "cuMemcpyDtoDAsync_v2", "destination")) return r;
    int r;
    return emu_capture_node(s, "cuMemcpyDtoDAsync_v2", work, &r) ? r : work();
}
EXPORT int cuMemsetD32Async(uint64_t dst, unsigned int value, size_t n, void* s)
{
    REQUIRE("cuMemsetD32Async");
    STREAM(s, "cuMemsetD32Async");
    if (int r = check_range(dst, n * 4, "cuMemsetD32Async", "destination")) return r;
    auto work = [=] {
        if (int r = check_range(dst, n * 4, "cuMemsetD32Async", "destination")) return r;
        auto* p = (unsigned int*)(uintptr_t)dst;
        for (size_t i = 0; i < n; i++) p[i] = value;
        emu_count(C_MEMSETS);
        return (int)EMU_SUCCESS;
    };
    int r;
    return emu_capture_node(s, "cuMemsetD32Async", work, &r) ? r : work();
}

EXPORT int emu_check_device_range(const void* p, size_t bytes, const char* what, char* message, size_t message_len)
{
    std::shared_lock<std::shared_mutex> lock(g_gate);
    if (find((uintptr_t)p, bytes) != g_allocations.end()) return 0;
    lock.unlock();
    if (message && message_len)
        snprintf(message, message_len, "%s [%p, +%zu bytes) is not inside one live device allocation (%s)",
                 what ? what : "range", p, bytes, emu_describe_address((uintptr_t)p).c_str());
    return 1;
}

EXPORT void emu_mark_initialized(const void* p, size_t bytes)
{
    char message[300];
    if (emu_check_device_range(p, bytes, "emu_mark_initialized", message, sizeof message))
        fprintf(stderr, "advrobust emulator: %s\n", message);
}
}
