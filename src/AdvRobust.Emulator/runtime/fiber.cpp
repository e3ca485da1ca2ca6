// fiber.cpp — fiber stacks, the first frame of a fiber, and the fault handler that turns a kernel's SIGSEGV/SIGBUS/
// SIGFPE/SIGILL into a failed launch naming the kernel, block and thread. The handler is installed only while a launch
// runs and passes any signal that is not from a kernel fiber to the handler it replaced (the .NET runtime has one).
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <atomic>
#include <mutex>
#include "fiber.h"

namespace
{
constexpr size_t kStack = 128 << 10, kGuard = 4096, kMaxThreads = 1024, kAltStack = 64 << 10;
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
constexpr int kMaxWorkers = 64;

// Workers are found by pthread id in plain globals: no TLS access (which may allocate) inside the signal handler.
Worker* g_workers[kMaxWorkers];
std::atomic<int> g_worker_count{0};
thread_local Worker* t_worker = nullptr;
struct sigaction g_previous[4];
int g_installed = 0;
std::mutex g_signal_gate;

Worker* worker_for_this_thread()
{
    pthread_t self = pthread_self();
    int n = g_worker_count.load(std::memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (g_workers[i] && pthread_equal(g_workers[i]->thread, self)) return g_workers[i];
    return nullptr;
}

void chain(int sig, siginfo_t* info, void* uc)
{
    for (int i = 0; i < 4; i++)
    {
        if (kSignals[i] != sig) continue;
        const struct sigaction& prev = g_previous[i];
        if (prev.sa_flags & SA_SIGINFO)
        {
            if (prev.sa_sigaction) prev.sa_sigaction(sig, info, uc);
            return;
        }
        if (prev.sa_handler == SIG_IGN) return;
        if (prev.sa_handler == SIG_DFL)
        {
            signal(sig, SIG_DFL);
            raise(sig);
            return;
        }
        prev.sa_handler(sig);
        return;
    }
}

extern "C" [[noreturn]] void emu_fault_exit()
{
    Worker* w = t_worker;
    w->current->state = F_FAULTED;
    emu_switch(&w->current->sp, w->sched_sp);
    __builtin_unreachable();
}

void on_signal(int sig, siginfo_t* info, void* ucv)
{
    Worker* w = worker_for_this_thread();
    if (!w || !w->current || w->fault_signal)
    {
        chain(sig, info, ucv);
        return;
    }
    auto* uc = static_cast<ucontext_t*>(ucv);
    w->fault_signal = sig;
    w->fault_address = (uintptr_t)info->si_addr;
    w->fault_pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    // Resume in emu_fault_exit at the top of the fiber's own stack (the fiber is abandoned; even an overflowed
    // stack has room there), aligned as at a function's entry.
    uintptr_t top = ((uintptr_t)w->current->stack_hi - 256) & ~(uintptr_t)15;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(top - 8);
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)&emu_fault_exit;
}
} // namespace

extern "C" [[noreturn]] void emu_fiber_main()
{
    Worker* w = t_worker;
    w->fn->host->run(w->params);
    w->current->state = F_EXITED;
    emu_switch(&w->current->sp, w->sched_sp);
    __builtin_unreachable();
}
extern "C" void emu_fiber_entry();

Worker* emu_current_worker() { return t_worker; }

Worker* emu_worker_create()
{
    auto* w = new Worker();
    w->thread = pthread_self();
    w->fibers = new Fiber[kMaxThreads]();
    size_t per = kStack + kGuard;
    char* all = (char*)mmap(nullptr, per * kMaxThreads, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                            -1, 0);
    if (all == MAP_FAILED)
    {
        perror("advrobust emulator: fiber stacks");
        abort();
    }
    for (size_t i = 0; i < kMaxThreads; i++)
    {
        char* base = all + i * per;
        mprotect(base, kGuard, PROT_NONE);
        w->fibers[i].stack_lo = base + kGuard;
        w->fibers[i].stack_hi = base + per;
    }
    stack_t alt{};
    alt.ss_sp = malloc(kAltStack);
    alt.ss_size = kAltStack;
    sigaltstack(&alt, nullptr);
    t_worker = w;
    int slot = g_worker_count.load();
    if (slot >= kMaxWorkers) abort();
    g_workers[slot] = w;
    g_worker_count.store(slot + 1, std::memory_order_release);
    return w;
}

void emu_fiber_prepare(Worker* w, Fiber* f)
{
    (void)w;
    // Frame read by emu_switch: [sp] MXCSR + x87 CW, r15, r14, r13, r12, rbx, rbp, return address (emu_fiber_entry).
    uintptr_t top = ((uintptr_t)f->stack_hi) & ~(uintptr_t)15;
    auto* frame = (uint64_t*)(top - 80);
    uint32_t csr[2];
    __asm__ volatile("stmxcsr %0; fnstcw %1" : "=m"(csr[0]), "=m"(*(uint16_t*)&csr[1]));
    csr[1] &= 0xffff;
    memcpy(&frame[0], csr, 8);
    for (int i = 1; i <= 6; i++) frame[i] = 0;
    frame[7] = (uint64_t)(uintptr_t)&emu_fiber_entry;
    f->sp = frame;
}

void emu_signals_install()
{
    std::lock_guard<std::mutex> lock(g_signal_gate);
    if (g_installed++ > 0) return;
    struct sigaction sa{};
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 4; i++) sigaction(kSignals[i], &sa, &g_previous[i]);
}

void emu_signals_restore()
{
    std::lock_guard<std::mutex> lock(g_signal_gate);
    if (--g_installed > 0) return;
    for (int i = 0; i < 4; i++) sigaction(kSignals[i], &g_previous[i], nullptr);
}

std::string emu_describe_thread(const Worker* w, const Fiber* f)
{
    char text[200];
    snprintf(text, sizeof text, "kernel %s, block (%u,%u,%u), thread (%u,%u,%u)", w->fn->name.c_str(),
             f->vars.block_idx.x, f->vars.block_idx.y, f->vars.block_idx.z, f->vars.thread_idx.x, f->vars.thread_idx.y,
             f->vars.thread_idx.z);
    return text;
}
