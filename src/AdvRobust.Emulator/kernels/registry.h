// registry.h — included at the end of each generated kernels/<family>.emu.cpp (see ../build.sh), after the family's
// .cu: EMU_FAMILY(EMU_ENTRY(k1), ...) lists its extern "C" __global__ kernels, each with a trampoline that unpacks
// cuLaunchKernel's void** kernelParams into typed arguments, and links the list into the library's registry.
#ifndef ADVROBUST_EMU_REGISTRY_H
#define ADVROBUST_EMU_REGISTRY_H

#include <stddef.h>
#include <type_traits>
#include <utility>
#include "emu_kernel_abi.h"

template <class F> struct EmuTrampoline;
template <class... A> struct EmuTrampoline<void (*)(A...)>
{
    template <void (*F)(A...), size_t... I>
    static void call(void** p, std::index_sequence<I...>) { F(*static_cast<std::remove_cv_t<A>*>(p[I])...); }
    template <void (*F)(A...)>
    static void run(void** p) { call<F>(p, std::index_sequence_for<A...>{}); }
    static constexpr unsigned short sizes[sizeof...(A) + 1] = {(unsigned short)sizeof(A)..., 0};
    static constexpr int count = sizeof...(A);
};

#define EMU_ENTRY(name)                                                                                               \
    EmuKernelEntry{#name, &EmuTrampoline<decltype(&name)>::template run<&name>, EmuTrampoline<decltype(&name)>::count, \
                   EmuTrampoline<decltype(&name)>::sizes}

struct EmuFamilyNode
{
    const EmuKernelEntry* entries;
    int count;
    EmuFamilyNode* next;
};
void emu_registry_add(EmuFamilyNode* node);

#define EMU_FAMILY(...)                                                                                               \
    static const EmuKernelEntry emu_family_entries[] = {__VA_ARGS__};                                        \
    static EmuFamilyNode emu_family_node = {emu_family_entries,                                                       \
                                            (int)(sizeof emu_family_entries / sizeof emu_family_entries[0]), nullptr}; \
    __attribute__((constructor)) static void emu_family_register() { emu_registry_add(&emu_family_node); }

#endif // ADVROBUST_EMU_REGISTRY_H
