// module.cpp — modules and launches. cuModuleLoadData takes the cubin NVRTC produced (an ELF image) and reads, per
// kernel, what the GPU would enforce: registers per thread (EIATTR_REGCOUNT), static shared memory (.nv.shared.<name>),
// __launch_bounds__ (EIATTR_MAX_THREADS) and parameter sizes (EIATTR_KPARAM_INFO). cuModuleGetFunction pairs the cubin's
// kernel with the host-compiled one of the same name from libadvrobust-emu-kernels.so (beside this library), checking
// that the parameter lists agree. cuLaunchKernel applies sm_90's limits, then runs the grid (scheduler.cpp).
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <map>
#include <mutex>
#include <string>
#include "emu_runtime.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace
{
struct CubinKernel
{
    int registers = 0, shared = 0, max_threads = 1024;
    std::vector<int> param_sizes;  // by ordinal
};
struct Module
{
    std::map<std::string, CubinKernel> kernels;
    std::vector<EmuFunction*> functions;
};

std::mutex g_gate;
void* g_lib = nullptr;
std::string g_lib_error;
std::map<std::string, const EmuKernelEntry*> g_host;
size_t g_tls_size = 0;
EmuTlsAnchorFn g_anchor = nullptr;

bool load_kernels_library()
{
    if (g_lib) return true;
    Dl_info self{};
    dladdr((void*)&load_kernels_library, &self);
    std::string dir = self.dli_fname ? self.dli_fname : "";
    dir = dir.substr(0, dir.rfind('/') + 1);
    std::string path = dir + "libadvrobust-emu-kernels.so";
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib)
    {
        g_lib_error = std::string("cannot load ") + path + ": " + dlerror() + " (run src/AdvRobust.Emulator/build.sh)";
        return false;
    }
    auto registry = (EmuRegistryFn)dlsym(lib, "emu_kernels_registry");
    g_anchor = (EmuTlsAnchorFn)dlsym(lib, "emu_kernels_tls_anchor");
    if (!registry || !g_anchor)
    {
        g_lib_error = path + " lacks emu_kernels_registry/emu_kernels_tls_anchor";
        return false;
    }
    int count = 0;
    const EmuKernelEntry* entries = registry(&count);
    for (int i = 0; i < count; i++) g_host[entries[i].name] = &entries[i];
    struct link_map* map = nullptr;
    dlinfo(lib, RTLD_DI_LINKMAP, &map);
    const char* wanted = map ? map->l_name : "";
    dl_iterate_phdr([](struct dl_phdr_info* info, size_t, void* data) -> int {
        if (strcmp(info->dlpi_name, (const char*)data) != 0) return 0;
        for (int i = 0; i < info->dlpi_phnum; i++)
            if (info->dlpi_phdr[i].p_type == PT_TLS) g_tls_size = info->dlpi_phdr[i].p_memsz;
        return 1;
    }, (void*)wanted);
    g_lib = lib;
    return true;
}

// ---- the cubin (ELF64) ----
template <class T> bool read(const unsigned char* img, size_t size, size_t off, T* out)
{
    if (off + sizeof(T) > size) return false;
    memcpy(out, img + off, sizeof(T));
    return true;
}

bool parse_cubin(const unsigned char* img, Module* m, std::string* error)
{
    Elf64_Ehdr eh;
    memcpy(&eh, img, sizeof eh);
    size_t size = eh.e_shoff + (size_t)eh.e_shnum * eh.e_shentsize;  // section headers come last in NVIDIA's cubins
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != 190 /* EM_CUDA */ || eh.e_shentsize != sizeof(Elf64_Shdr))
        return *error = "not a 64-bit CUDA ELF (cubin)", false;
    std::vector<Elf64_Shdr> sh(eh.e_shnum);
    for (int i = 0; i < eh.e_shnum; i++)
        if (!read(img, size, eh.e_shoff + i * sizeof(Elf64_Shdr), &sh[i])) return *error = "truncated section table", false;
    auto name_of = [&](const Elf64_Shdr& strtab, uint32_t off) { return std::string((const char*)img + strtab.sh_offset + off); };
    const Elf64_Shdr& shstr = sh[eh.e_shstrndx];
    std::vector<std::string> symbols;
    for (auto& s : sh)
    {
        if (s.sh_type != SHT_SYMTAB) continue;
        const Elf64_Shdr& strtab = sh[s.sh_link];
        for (size_t off = 0; off + sizeof(Elf64_Sym) <= s.sh_size; off += sizeof(Elf64_Sym))
        {
            Elf64_Sym sym;
            memcpy(&sym, img + s.sh_offset + off, sizeof sym);
            symbols.push_back(name_of(strtab, sym.st_name));
            if (ELF64_ST_TYPE(sym.st_info) == STT_FUNC && ELF64_ST_BIND(sym.st_info) == STB_GLOBAL)
                m->kernels[symbols.back()];
        }
    }
    for (auto& s : sh)
    {
        std::string name = name_of(shstr, s.sh_name);
        if (name.rfind(".nv.shared.", 0) == 0 && m->kernels.count(name.substr(11)))
            m->kernels[name.substr(11)].shared = (int)s.sh_size;
        bool global_info = name == ".nv.info";
        if (!global_info && name.rfind(".nv.info.", 0) != 0) continue;
        CubinKernel* k = global_info ? nullptr : &m->kernels[name.substr(9)];
        for (size_t off = s.sh_offset, end = s.sh_offset + s.sh_size; off + 4 <= end;)
        {
            uint8_t format = img[off], attr = img[off + 1];
            uint16_t len = 0;
            memcpy(&len, img + off + 2, 2);
            const unsigned char* v = img + off + 4;
            if (format != 4) { off += 4; continue; }  // only EIFMT_SVAL carries a payload
            uint32_t a = 0, b = 0;
            if (len >= 8) { memcpy(&a, v, 4); memcpy(&b, v + 4, 4); }
            if (global_info && attr == 0x2f && a < symbols.size() && m->kernels.count(symbols[a]))
                m->kernels[symbols[a]].registers = (int)b;                       // EIATTR_REGCOUNT
            if (k && attr == 0x05 && len >= 12)                                  // EIATTR_MAX_THREADS
            {
                uint32_t xyz[3];
                memcpy(xyz, v, 12);
                k->max_threads = (int)(xyz[0] * xyz[1] * xyz[2]);
            }
            if (k && attr == 0x17 && len >= 12)                                  // EIATTR_KPARAM_INFO
            {
                uint16_t ordinal, offset;
                uint32_t flags;
                memcpy(&ordinal, v + 4, 2);
                memcpy(&offset, v + 6, 2);
                memcpy(&flags, v + 8, 4);
                if (k->param_sizes.size() <= ordinal) k->param_sizes.resize(ordinal + 1);
                k->param_sizes[ordinal] = (int)((flags >> 18) & 0x3fff);
            }
            off += 4 + len;
        }
    }
    return true;
}
} // namespace

void* emu_kernels_handle() { return g_lib; }
size_t emu_kernels_tls_size() { return g_tls_size; }
EmuTlsAnchorFn emu_kernels_tls_anchor_fn() { return g_anchor; }

EXPORT int cuModuleLoadData(void** module, const void* image)
{
    if (int r = emu_require_context("cuModuleLoadData")) return r;
    if (!module || !image) return emu_fail(EMU_INVALID_VALUE, "cuModuleLoadData: null module or image");
    {
        std::lock_guard<std::mutex> lock(g_gate);
        if (!load_kernels_library()) return emu_fail(EMU_INVALID_IMAGE, "%s", g_lib_error.c_str());
    }
    const auto* img = (const unsigned char*)image;
    if (memcmp(img, ELFMAG, SELFMAG) != 0)
        return emu_fail(EMU_INVALID_IMAGE, "cuModuleLoadData: the image is not a cubin (ELF); the emulator runs the cubins "
                                           "NVRTC compiles, not PTX or fatbins");
    auto* m = new Module();
    std::string error;
    if (!parse_cubin(img, m, &error))
    {
        delete m;
        return emu_fail(EMU_INVALID_IMAGE, "cuModuleLoadData: %s", error.c_str());
    }
    *module = m;
    return EMU_SUCCESS;
}

EXPORT int cuModuleUnload(void* module)
{
    if (!module) return emu_fail(EMU_INVALID_HANDLE, "cuModuleUnload: null module");
    auto* m = (Module*)module;
    for (auto* f : m->functions) delete f;
    delete m;
    return EMU_SUCCESS;
}

EXPORT int cuModuleGetFunction(void** fn, void* module, const char* name)
{
    if (!module || !name) return emu_fail(EMU_INVALID_HANDLE, "cuModuleGetFunction: null module or name");
    auto* m = (Module*)module;
    auto k = m->kernels.find(name);
    if (k == m->kernels.end()) return emu_fail(EMU_NOT_FOUND, "cuModuleGetFunction: the cubin has no kernel '%s'", name);
    auto h = g_host.find(name);
    if (h == g_host.end())
        return emu_fail(EMU_NOT_FOUND, "cuModuleGetFunction: '%s' is in the cubin but not in libadvrobust-emu-kernels.so "
                                       "(rebuild the emulator: src/AdvRobust.Emulator/build.sh)", name);
    const EmuKernelEntry* e = h->second;
    bool same = (int)k->second.param_sizes.size() == e->param_count;
    for (int i = 0; same && i < e->param_count; i++) same = k->second.param_sizes[i] == e->param_sizes[i];
    if (!same)
        return emu_fail(EMU_NOT_FOUND, "cuModuleGetFunction: '%s' has %zu parameters in the cubin and %d in the host "
                                       "build, or their sizes differ (rebuild the emulator)", name,
                        k->second.param_sizes.size(), e->param_count);
    auto* f = new EmuFunction{name, e, k->second.registers, k->second.shared, k->second.max_threads};
    m->functions.push_back(f);
    *fn = f;
    return EMU_SUCCESS;
}

EXPORT int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                          unsigned shared, void* stream, void** params, void** extra)
{
    if (int r = emu_require_context("cuLaunchKernel")) return r;
    if (int r = emu_check_stream(stream, "cuLaunchKernel")) return r;
    if (!f) return emu_fail(EMU_INVALID_HANDLE, "cuLaunchKernel: null function");
    const auto& fn = *(const EmuFunction*)f;
    const char* n = fn.name.c_str();
    if (extra) return emu_fail(EMU_INVALID_VALUE, "cuLaunchKernel(%s): `extra` parameter packing is not emulated", n);
    if (fn.host->param_count > 0 && !params) return emu_fail(EMU_INVALID_VALUE, "cuLaunchKernel(%s): kernelParams is null", n);
    if (gx == 0 || gy == 0 || gz == 0 || gx > 0x7fffffffu || gy > 65535 || gz > 65535)
        return emu_fail(EMU_INVALID_VALUE, "cuLaunchKernel(%s): grid (%u,%u,%u) out of range (x 1..2^31-1, y and z 1..65535)",
                        n, gx, gy, gz);
    uint64_t threads = (uint64_t)bx * by * bz;
    if (bx == 0 || by == 0 || bz == 0 || bx > 1024 || by > 1024 || bz > 64 || threads > 1024)
        return emu_fail(EMU_INVALID_VALUE, "cuLaunchKernel(%s): block (%u,%u,%u) out of range (at most 1024 threads; x, y "
                                           "<= 1024, z <= 64)", n, bx, by, bz);
    if ((int)threads > fn.max_threads)
        return emu_fail(EMU_INVALID_VALUE, "cuLaunchKernel(%s): block of %llu threads exceeds its __launch_bounds__ (%d)", n,
                        (unsigned long long)threads, fn.max_threads);
    uint64_t warps = (threads + 31) / 32, regs_per_warp = ((uint64_t)fn.registers * 32 + 255) / 256 * 256;
    if (warps * regs_per_warp > 65536)
        return emu_fail(EMU_LAUNCH_OUT_OF_RESOURCES, "cuLaunchKernel(%s): %llu threads x %d registers need %llu of sm_90's "
                                                     "65536 registers per block", n, (unsigned long long)threads,
                        fn.registers, (unsigned long long)(warps * regs_per_warp));
    if ((uint64_t)fn.static_shared + shared > 48 * 1024)
        return emu_fail(EMU_INVALID_VALUE, "cuLaunchKernel(%s): %d B static + %u B dynamic shared memory exceed 48 KB per "
                                           "block", n, fn.static_shared, shared);
    dim3 grid(gx, gy, gz), block(bx, by, bz);
    if (emu_capturing(stream))
    {
        // A kernel node with a copy of each parameter's bytes (sizes from the cubin, which cuModuleGetFunction
        // checked against the host build), replayed by cuGraphLaunch.
        std::vector<std::vector<char>> bytes(fn.host->param_count);
        for (int i = 0; i < fn.host->param_count; i++)
            bytes[i].assign((const char*)params[i], (const char*)params[i] + fn.host->param_sizes[i]);
        auto node = [&fn, grid, block, bytes]() mutable {
            std::vector<void*> p(bytes.size());
            for (size_t i = 0; i < bytes.size(); i++) p[i] = bytes[i].data();
            emu_count(C_LAUNCHES);
            emu_count(C_GRAPH_KERNEL_LAUNCHES);
            return emu_run_grid(fn, grid, block, p.data());
        };
        int r;
        if (emu_capture_node(stream, n, node, &r)) return r;
    }
    emu_count(C_LAUNCHES);
    return emu_run_grid(fn, grid, block, params);
}
