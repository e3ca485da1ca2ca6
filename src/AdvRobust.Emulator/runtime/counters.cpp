// counters.cpp — what a profiler would count: launches, library calls, copies and bytes by direction, memsets,
// synchronizations, allocations. Totals, plus per named region: an event counts in every region open at that moment,
// and a region's counts accumulate over all the times it was open.
#include <string.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>
#include "emu_runtime.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace
{
std::mutex g_gate;
uint64_t g_total[C_FIELD_COUNT];
std::map<std::string, std::vector<uint64_t>> g_regions;
std::vector<std::string> g_open;
uint64_t g_seed = [] {
    const char* env = getenv("ADVROBUST_EMULATOR_SEED");
    return env && *env ? strtoull(env, nullptr, 0) : 1ull;
}();

void copy_out(const uint64_t* v, EmuCounters* out)
{
    static_assert(sizeof(EmuCounters) == C_FIELD_COUNT * sizeof(uint64_t), "EmuCounters mirrors EmuCounterField");
    memcpy(out, v, sizeof(EmuCounters));
}
} // namespace

void emu_count(EmuCounterField field, uint64_t amount)
{
    std::lock_guard<std::mutex> lock(g_gate);
    g_total[field] += amount;
    for (auto& name : g_open) g_regions[name][field] += amount;
}

void emu_uncount(EmuCounterField field)
{
    std::lock_guard<std::mutex> lock(g_gate);
    g_total[field] -= 1;
    for (auto& name : g_open) g_regions[name][field] -= 1;
}

uint64_t emu_seed()
{
    std::lock_guard<std::mutex> lock(g_gate);
    return g_seed;
}

EXPORT uint64_t emu_get_seed(void) { return emu_seed(); }
EXPORT void emu_set_seed(uint64_t seed)
{
    std::lock_guard<std::mutex> lock(g_gate);
    g_seed = seed;
}

EXPORT void emu_count_library_call(const char* library, const char* function)
{
    (void)library;
    (void)function;
    emu_count(C_LIBRARY_CALLS);
}

EXPORT int emu_counters_read(const char* region, EmuCounters* out)
{
    std::lock_guard<std::mutex> lock(g_gate);
    if (!region)
    {
        copy_out(g_total, out);
        return 0;
    }
    auto it = g_regions.find(region);
    if (it == g_regions.end()) return 1;
    copy_out(it->second.data(), out);
    return 0;
}

EXPORT void emu_counters_reset(void)
{
    std::lock_guard<std::mutex> lock(g_gate);
    memset(g_total, 0, sizeof g_total);
    g_regions.clear();
    for (auto& name : g_open) g_regions[name].assign(C_FIELD_COUNT, 0);
}

EXPORT void emu_region_push(const char* name)
{
    std::lock_guard<std::mutex> lock(g_gate);
    g_open.push_back(name ? name : "");
    auto& v = g_regions[g_open.back()];
    if (v.empty()) v.assign(C_FIELD_COUNT, 0);
}

EXPORT int emu_region_pop(void)
{
    std::lock_guard<std::mutex> lock(g_gate);
    if (g_open.empty()) return 1;
    g_open.pop_back();
    return 0;
}
