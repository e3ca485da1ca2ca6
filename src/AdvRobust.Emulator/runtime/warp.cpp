// warp.cpp — warp collectives and the functions host-compiled kernels call (emu_kernel_abi.h). Lane = linear thread
// index % 32, warp = linear / 32, as on the GPU. CUDA's rules, checked: the calling lane must be in the mask, every
// lane of the mask must exist and reach the same op with the same mask, and a shuffle must read an active lane.
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "warp.h"

extern "C" __attribute__((visibility("default"))) const EmuThreadVars* emu_thread_vars(void)
{
    return &emu_current_worker()->current->vars;
}

namespace
{
Fiber* self() { return emu_current_worker()->current; }

void park(Fiber* f)
{
    Worker* w = emu_current_worker();
    emu_switch(&f->sp, w->sched_sp);
}

void fail(Worker* w, const std::string& message)
{
    if (w->failed) return;
    w->failed = true;
    w->fail_code = EMU_LAUNCH_FAILED;
    w->fail_message = message;
}

std::string lane_text(Worker* w, const Fiber* f)
{
    std::string s = emu_describe_thread(w, f);
    return s.substr(s.find("thread"));
}
} // namespace

extern "C" __attribute__((visibility("default"))) void emu_syncthreads(const char* site)
{
    Fiber* f = self();
    f->state = F_AT_BARRIER;
    f->site = site;
    park(f);
}

extern "C" __attribute__((visibility("default"))) uint64_t emu_warp_op(int op, unsigned int mask, uint64_t value,
                                                                         int arg, int width, const char* site)
{
    Fiber* f = self();
    f->state = F_AT_WARP;
    f->op = op;
    f->mask = mask;
    f->value = value;
    f->arg = arg;
    f->width = width;
    f->site = site;
    park(f);
    return f->result;
}

extern "C" [[noreturn]] __attribute__((visibility("default"))) void emu_kernel_trap(const char* site, const char* what)
{
    Worker* w = emu_current_worker();
    fail(w, emu_describe_thread(w, w->current) + ": " + what + " at " + site);
    w->current->state = F_EXITED;
    emu_switch(&w->current->sp, w->sched_sp);
    __builtin_unreachable();
}

const char* emu_warp_op_name(int op)
{
    static const char* names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
                                  "__all_sync", "__any_sync", "__ballot_sync", "__syncwarp"};
    return op >= 0 && op < 8 ? names[op] : "warp op";
}

void emu_warp_try_complete(Worker* w, Fiber* fs, int n, int i)
{
    Fiber& me = fs[i];
    const int lane = i % 32, base = i - lane;
    char text[300];
    if (!(me.mask & (1u << lane)))
    {
        snprintf(text, sizeof text, ": %s (%s) with mask 0x%08x, which does not name the calling lane %d",
                 emu_warp_op_name(me.op), me.site, me.mask, lane);
        fail(w, emu_describe_thread(w, &me) + text);
        return;
    }
    if (me.op <= EMU_SHFL_XOR && (me.width <= 0 || me.width > 32 || (me.width & (me.width - 1))))
    {
        snprintf(text, sizeof text, ": %s (%s) with width %d (must be a power of 2 up to 32)", emu_warp_op_name(me.op),
                 me.site, me.width);
        fail(w, emu_describe_thread(w, &me) + text);
        return;
    }
    for (int l = 0; l < 32; l++)
    {
        if (!(me.mask & (1u << l))) continue;
        if (base + l >= n)
        {
            snprintf(text, sizeof text, ": %s (%s) with mask 0x%08x names lane %d, which does not exist (%d threads "
                     "per block): inactive lanes in the mask", emu_warp_op_name(me.op), me.site, me.mask, l, n);
            fail(w, emu_describe_thread(w, &me) + text);
            return;
        }
        const Fiber& o = fs[base + l];
        if (o.state == F_EXITED)
        {
            snprintf(text, sizeof text, ": %s (%s) with mask 0x%08x names lane %d (", emu_warp_op_name(me.op), me.site,
                     me.mask, l);
            fail(w, emu_describe_thread(w, &me) + text + lane_text(w, &o) + "), which has exited: inactive lanes in the mask");
            return;
        }
        if (o.state != F_AT_WARP || o.op != me.op || o.mask != me.mask || strcmp(o.site, me.site) != 0) return;
    }
    // Every lane is here: compute each lane's result from the values posted.
    uint32_t ballot = 0;
    for (int l = 0; l < 32; l++)
        if ((me.mask & (1u << l)) && fs[base + l].value) ballot |= 1u << l;
    for (int l = 0; l < 32; l++)
    {
        if (!(me.mask & (1u << l))) continue;
        Fiber& f = fs[base + l];
        int src = l, width = f.width, seg = l / (width > 0 ? width : 32);
        switch (f.op)
        {
        case EMU_SHFL_IDX: src = seg * width + (f.arg & (width - 1)); break;
        case EMU_SHFL_UP: src = (l % width) >= f.arg ? l - f.arg : l; break;
        case EMU_SHFL_DOWN: src = (l % width) + f.arg < width ? l + f.arg : l; break;
        case EMU_SHFL_XOR: src = (l ^ f.arg) / width > seg ? l : ((l ^ f.arg) & 31); break;
        case EMU_VOTE_ALL: f.result = ballot == me.mask; break;
        case EMU_VOTE_ANY: f.result = ballot != 0; break;
        case EMU_VOTE_BALLOT: f.result = ballot; break;
        default: f.result = 0; break;
        }
        if (f.op <= EMU_SHFL_XOR)
        {
            if (!(me.mask & (1u << src)))
            {
                snprintf(text, sizeof text, ": %s (%s) with mask 0x%08x reads lane %d, which is not in the mask "
                         "(an undefined value on a GPU)", emu_warp_op_name(f.op), f.site, f.mask, src);
                fail(w, emu_describe_thread(w, &f) + text);
                return;
            }
            f.result = fs[base + src].value;
        }
    }
    for (int l = 0; l < 32; l++)
        if (me.mask & (1u << l)) fs[base + l].state = F_RUNNABLE;
}

int emu_warp_blocker(const Fiber* fs, int n, int i)
{
    const Fiber& me = fs[i];
    const int base = i - i % 32;
    for (int l = 0; l < 32; l++)
    {
        if (!(me.mask & (1u << l)) || base + l >= n) continue;
        const Fiber& o = fs[base + l];
        if (o.state != F_AT_WARP || o.op != me.op || o.mask != me.mask || strcmp(o.site, me.site) != 0) return base + l;
    }
    return i;
}

int emu_fault_code(int signal)
{
    return signal == SIGSEGV || signal == SIGBUS ? EMU_ILLEGAL_ADDRESS
           : signal == SIGILL                   ? EMU_ILLEGAL_INSTRUCTION
                                                : EMU_LAUNCH_FAILED;
}

std::string emu_fault_text(int signal, uintptr_t address, uintptr_t pc)
{
    char text[400];
    if (signal == SIGSEGV || signal == SIGBUS)
        snprintf(text, sizeof text, "illegal address 0x%zx (%s)", (size_t)address,
                 emu_describe_address(address).c_str());
    else if (signal == SIGFPE)
        snprintf(text, sizeof text, "arithmetic fault (integer division by zero?) at host pc 0x%zx", (size_t)pc);
    else
        snprintf(text, sizeof text, "illegal instruction (signal %d) at host pc 0x%zx", signal, (size_t)pc);
    return text;
}
