// fiber.h — one CUDA thread is one fiber; one worker (OS thread) runs one block's fibers at a time.
#ifndef ADVROBUST_EMU_FIBER_H
#define ADVROBUST_EMU_FIBER_H

#include <pthread.h>
#include <string>
#include "emu_runtime.h"

enum FiberState { F_RUNNABLE, F_AT_BARRIER, F_AT_WARP, F_EXITED, F_FAULTED };

struct Fiber
{
    void* sp;
    char* stack_lo;   // lowest usable byte (a guard page lies below)
    char* stack_hi;   // one past the highest byte
    EmuThreadVars vars;
    int linear;       // x + y*bx + z*bx*by
    FiberState state;
    const char* site; // where it waits
    int op;           // the warp op it waits in
    unsigned int mask;
    uint64_t value, result;
    int arg, width;
};

struct Worker
{
    pthread_t thread;
    Fiber* fibers;          // 1024, each with its own stack
    Fiber* current;         // the running fiber, or null
    void* sched_sp;         // the scheduler's saved stack pointer
    const EmuFunction* fn;
    void** params;
    // a failure inside the running block
    bool failed;
    int fail_code;
    std::string fail_message;
    // set by the signal handler (async-signal-safe fields only)
    volatile int fault_signal;
    volatile uintptr_t fault_address, fault_pc;
    void* tls_block;        // this thread's TLS block of the kernels library (the __shared__ data)
};

extern "C" void emu_switch(void** from, void* to);

// fiber.cpp
Worker* emu_worker_create();                   // stacks and alternate signal stack for the calling thread
Worker* emu_current_worker();
void emu_fiber_prepare(Worker* w, Fiber* f);   // a fresh start of the kernel on f's stack
void emu_signals_install();                     // for the duration of a launch; chains to the previous handlers
void emu_signals_restore();
std::string emu_describe_thread(const Worker* w, const Fiber* f);

#endif // ADVROBUST_EMU_FIBER_H
