// warp.h — warp collectives (shuffles, votes, __syncwarp) and the kernel-side entry points of the runtime.
#ifndef ADVROBUST_EMU_WARP_H
#define ADVROBUST_EMU_WARP_H

#include "fiber.h"

const char* emu_warp_op_name(int op);
// Fiber i waits at a warp op: if every lane of its mask waits at the same op, computes the results and makes the
// lanes runnable; a mask naming an exited or missing lane fails the launch.
void emu_warp_try_complete(Worker* w, Fiber* fibers, int n, int i);
// Fiber i waits at a warp op that cannot complete: the first lane of its mask that keeps it waiting.
int emu_warp_blocker(const Fiber* fibers, int n, int i);
int emu_fault_code(int signal);
std::string emu_fault_text(int signal, uintptr_t address, uintptr_t pc);

#endif // ADVROBUST_EMU_WARP_H
