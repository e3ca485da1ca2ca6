// scheduler.cpp — runs a launch: blocks on a small pool of worker threads, each block's threads as fibers in a seeded
// random order between rendezvous points. __syncthreads releases only when every live thread of the block waits at
// the same barrier; a warp op completes when every lane of its mask waits at the same op with the same mask. A thread
// that exits while others wait for it, or a rendezvous that can never complete, fails the launch with the kernel's
// name, block and thread, as does a fault (fiber.cpp).
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include "fiber.h"
#include "warp.h"

void* emu_kernels_handle();
size_t emu_kernels_tls_size();
EmuTlsAnchorFn emu_kernels_tls_anchor_fn();

namespace
{
uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s)
{
    uint64_t h = 1469598103934665603ull;
    for (char c : s) h = (h ^ (unsigned char)c) * 1099511628211ull;
    return h;
}

const char* state_text(const Fiber& f, char* buf, size_t n)
{
    switch (f.state)
    {
    case F_EXITED: return "has exited";
    case F_AT_BARRIER: snprintf(buf, n, "waits at __syncthreads (%s)", f.site); return buf;
    case F_AT_WARP: snprintf(buf, n, "waits at %s (%s) with mask 0x%08x", emu_warp_op_name(f.op), f.site, f.mask); return buf;
    default: return "is running";
    }
}

void fail(Worker* w, int code, const std::string& message)
{
    if (w->failed) return;
    w->failed = true;
    w->fail_code = code;
    w->fail_message = message;
}

// Nothing is runnable and not every thread has exited: release a complete barrier or report the deadlock.
void resolve(Worker* w, int n)
{
    Fiber* fs = w->fibers;
    char a[160], b[160];
    for (int i = 0; i < n; i++)
    {
        if (fs[i].state != F_AT_WARP) continue;
        int blocker = emu_warp_blocker(fs, n, i);
        fail(w, EMU_LAUNCH_FAILED, emu_describe_thread(w, &fs[i]) + " " + state_text(fs[i], a, sizeof a) +
                                       ", but " + emu_describe_thread(w, &fs[blocker]).substr(emu_describe_thread(w, &fs[blocker]).find("thread")) +
                                       " " + state_text(fs[blocker], b, sizeof b) + " (deadlock)");
        return;
    }
    int first = -1;
    for (int i = 0; i < n; i++)
        if (fs[i].state == F_AT_BARRIER && first < 0) first = i;
    for (int i = 0; i < n; i++)
    {
        bool exited = fs[i].state == F_EXITED;
        bool elsewhere = fs[i].state == F_AT_BARRIER && strcmp(fs[i].site, fs[first].site) != 0;
        if (!exited && !elsewhere) continue;
        std::string other = emu_describe_thread(w, &fs[i]);
        fail(w, EMU_LAUNCH_FAILED, emu_describe_thread(w, &fs[first]) + " " + state_text(fs[first], a, sizeof a) +
                                       ", but " + other.substr(other.find("thread")) + " " +
                                       (exited ? "exited without reaching it" : state_text(fs[i], b, sizeof b)) +
                                       " (a __syncthreads not reached by every thread of the block)");
        return;
    }
    for (int i = 0; i < n; i++) fs[i].state = F_RUNNABLE;
}

void run_block(Worker* w, dim3 grid, dim3 block, uint64_t linear_block)
{
    const int n = (int)(block.x * block.y * block.z);
    uint3 bid{(unsigned)(linear_block % grid.x), (unsigned)(linear_block / grid.x % grid.y),
              (unsigned)(linear_block / grid.x / grid.y)};
    if (w->tls_block) memset(w->tls_block, 0xFF, emu_kernels_tls_size());
    for (int i = 0; i < n; i++)
    {
        Fiber& f = w->fibers[i];
        f.linear = i;
        f.vars.thread_idx = {(unsigned)(i % block.x), (unsigned)(i / block.x % block.y), (unsigned)(i / block.x / block.y)};
        f.vars.block_idx = bid;
        f.vars.block_dim = block;
        f.vars.grid_dim = grid;
        f.state = F_RUNNABLE;
        f.site = "";
        emu_fiber_prepare(w, &f);
    }
    uint64_t rng = mix(emu_seed() ^ hash_name(w->fn->name) ^ mix(linear_block + 1));
    std::vector<int> order;
    order.reserve(n);
    for (;;)
    {
        order.clear();
        for (int i = 0; i < n; i++)
            if (w->fibers[i].state == F_RUNNABLE) order.push_back(i);
        if (order.empty())
        {
            bool all_exited = true;
            for (int i = 0; i < n; i++) all_exited &= w->fibers[i].state == F_EXITED;
            if (all_exited) return;
            resolve(w, n);
            if (w->failed) return;
            continue;
        }
        for (size_t i = order.size(); i > 1; i--)
        {
            rng = mix(rng);
            std::swap(order[i - 1], order[rng % i]);
        }
        for (int i : order)
        {
            Fiber* f = &w->fibers[i];
            w->current = f;
            emu_switch(&w->sched_sp, f->sp);
            w->current = nullptr;
            if (f->state == F_FAULTED)
            {
                fail(w, emu_fault_code(w->fault_signal),
                     emu_describe_thread(w, f) + ": " + emu_fault_text(w->fault_signal, w->fault_address, w->fault_pc));
                return;
            }
            if (w->failed) return;
            if (f->state == F_AT_WARP) emu_warp_try_complete(w, w->fibers, n, i);
            if (w->failed) return;
        }
    }
}

// ---- the worker pool ----
struct Pool
{
    std::mutex gate;
    std::condition_variable wake, done;
    uint64_t generation = 0;
    int busy = 0;
    const EmuFunction* fn = nullptr;
    void** params = nullptr;
    dim3 grid, block;
    uint64_t blocks = 0;
    std::atomic<uint64_t> next{0};
    std::atomic<uint64_t> first_failed{UINT64_MAX};
    int fail_code = 0;
    std::string fail_message;
    std::vector<std::thread> threads;
};
// Never destroyed: the workers wait on its condition variable for the life of the process.
Pool& g_pool = *new Pool();

void worker_loop()
{
    Worker* w = emu_worker_create();
    emu_kernels_tls_anchor_fn()();
    dlinfo(emu_kernels_handle(), RTLD_DI_TLS_DATA, &w->tls_block);
    uint64_t seen = 0;
    for (;;)
    {
        {
            std::unique_lock<std::mutex> lock(g_pool.gate);
            g_pool.wake.wait(lock, [&] { return g_pool.generation != seen; });
            seen = g_pool.generation;
        }
        w->fn = g_pool.fn;
        w->params = g_pool.params;
        for (;;)
        {
            uint64_t b = g_pool.next.fetch_add(1);
            if (b >= g_pool.blocks || b > g_pool.first_failed.load()) break;
            w->failed = false;
            w->fault_signal = 0;
            run_block(w, g_pool.grid, g_pool.block, b);
            if (!w->failed) continue;
            std::lock_guard<std::mutex> lock(g_pool.gate);
            if (b < g_pool.first_failed.load())
            {
                g_pool.first_failed = b;
                g_pool.fail_code = w->fail_code;
                g_pool.fail_message = w->fail_message;
            }
        }
        std::lock_guard<std::mutex> lock(g_pool.gate);
        if (--g_pool.busy == 0) g_pool.done.notify_all();
    }
}

int worker_count()
{
    const char* env = getenv("ADVROBUST_EMULATOR_THREADS");
    int n = env && *env ? atoi(env) : (int)std::min(4u, std::max(1u, std::thread::hardware_concurrency()));
    return std::max(1, std::min(n, 32));
}
} // namespace

int emu_run_grid(const EmuFunction& fn, dim3 grid, dim3 block, void** params)
{
    static std::mutex launch_gate;
    std::lock_guard<std::mutex> launch(launch_gate);
    if (g_pool.threads.empty())
        for (int i = worker_count(); i > 0; i--) g_pool.threads.emplace_back(worker_loop).detach();
    emu_signals_install();
    {
        std::lock_guard<std::mutex> lock(g_pool.gate);
        g_pool.fn = &fn;
        g_pool.params = params;
        g_pool.grid = grid;
        g_pool.block = block;
        g_pool.blocks = (uint64_t)grid.x * grid.y * grid.z;
        g_pool.next = 0;
        g_pool.first_failed = UINT64_MAX;
        g_pool.busy = (int)g_pool.threads.size();
        g_pool.generation++;
    }
    g_pool.wake.notify_all();
    {
        std::unique_lock<std::mutex> lock(g_pool.gate);
        g_pool.done.wait(lock, [] { return g_pool.busy == 0; });
    }
    emu_signals_restore();
    if (g_pool.first_failed.load() != UINT64_MAX) return emu_fail(g_pool.fail_code, "%s", g_pool.fail_message.c_str());
    std::string canary = emu_check_canaries();
    if (!canary.empty()) return emu_fail(EMU_ILLEGAL_ADDRESS, "kernel %s: %s", fn.name.c_str(), canary.c_str());
    return EMU_SUCCESS;
}
