// The emu_api.h hooks, defined by the test executable (linked with -rdynamic, so the libraries' weak references bind
// here): a list of live allocations, call counters and a running total of bytes marked initialized.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "check.h"

int g_failures = 0, g_checks = 0;

namespace {
std::vector<std::pair<uintptr_t, uintptr_t>> g_allocs;
std::map<std::string, long long> g_calls;
long long g_marked = 0;
}  // namespace

void* dev_alloc(size_t bytes) {
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
    g_allocs.push_back({(uintptr_t)p, (uintptr_t)p + bytes});
    return p;
}

void dev_free(void* p) {
    for (size_t i = 0; i < g_allocs.size(); i++)
        if (g_allocs[i].first == (uintptr_t)p) g_allocs.erase(g_allocs.begin() + i);
    std::free(p);
}

long long call_count(const std::string& function) { return g_calls[function]; }
long long marked_bytes() { return g_marked; }

int finish(const char* suite) {
    std::printf("%s: %d checks, %d failed\n", suite, g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}

extern "C" __attribute__((visibility("default"))) int emu_check_device_range(const void* p, size_t bytes,
                                                                             const char* what, char* message,
                                                                             size_t message_len) {
    uintptr_t b = (uintptr_t)p, e = b + bytes;
    for (auto& [lo, hi] : g_allocs)
        if (b >= lo && e <= hi) return 0;
    std::snprintf(message, message_len, "fake runtime: %s is not inside one allocation", what);
    return 1;
}

extern "C" __attribute__((visibility("default"))) void emu_count_library_call(const char*, const char* function) {
    g_calls[function]++;
}

extern "C" __attribute__((visibility("default"))) void emu_mark_initialized(const void*, size_t bytes) {
    g_marked += (long long)bytes;
}
