// switch.S — the fibers' context switch (x86-64 System V): saves the callee-saved registers, MXCSR and the x87 control
// word on the current stack, stores the stack pointer in *from, and resumes the fiber whose stack pointer is `to`.
// A new fiber's stack is prepared by fiber.cpp so that its first resume "returns" into emu_fiber_entry.
    .text
    .globl emu_switch
    .type emu_switch, @function
    .hidden emu_switch
// void emu_switch(void** from, void* to)
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch

    .globl emu_fiber_entry
    .type emu_fiber_entry, @function
    .hidden emu_fiber_entry
// First code a fiber runs; the stack is 16-byte aligned here, so the call leaves it as a C function expects.
emu_fiber_entry:
    call emu_fiber_main
    ud2
    .size emu_fiber_entry, .-emu_fiber_entry
    .section .note.GNU-stack,"",@progbits
