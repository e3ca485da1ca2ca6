// registry.cpp — the kernels library's exports: every family's entries (linked in by constructors) as one array, and
// an anchor in the library's thread-local storage, so the runtime can find and poison the per-block __shared__ data.
#include <vector>
#include "registry.h"

static EmuFamilyNode* g_families = nullptr;

void emu_registry_add(EmuFamilyNode* node)
{
    node->next = g_families;
    g_families = node;
}

extern "C" __attribute__((visibility("default"))) const EmuKernelEntry* emu_kernels_registry(int* count)
{
    static std::vector<EmuKernelEntry> all;
    if (all.empty())
        for (EmuFamilyNode* f = g_families; f; f = f->next)
            all.insert(all.end(), f->entries, f->entries + f->count);
    *count = (int)all.size();
    return all.data();
}

// Touching it makes the loader allocate this library's TLS block on the calling thread (it is allocated lazily).
static thread_local char g_tls_anchor;
extern "C" __attribute__((visibility("default"))) void* emu_kernels_tls_anchor(void) { return &g_tls_anchor; }
