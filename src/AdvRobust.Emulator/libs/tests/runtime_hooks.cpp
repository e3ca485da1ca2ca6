// Integration check with the emulator's runtime (libadvrobust-emu-cuda.so, built by ../../build.sh into OUTDIR): the
// runtime and the stand-ins are opened RTLD_LOCAL, as .NET opens them, so the stand-ins must find the runtime's
// hooks themselves. Checks that a library call is counted by the runtime, that a host pointer (not device memory) is
// refused, and that device memory from cuMemAlloc_v2 is accepted. Usage: runtime_hooks OUTDIR
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "api.h"

namespace {
int g_failed = 0;
void expect(bool ok, const char* what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) g_failed++;
}
template <typename F>
F sym(void* lib, const char* name) {
    void* p = dlsym(lib, name);
    if (p == nullptr) std::printf("FAIL missing symbol %s\n", name), g_failed++;
    return reinterpret_cast<F>(p);
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    std::string dir = argv[1];
    void* rt = dlopen((dir + "/libadvrobust-emu-cuda.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    void* blas = dlopen((dir + "/libadvrobust-emu-cublas.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    void* dnn = dlopen((dir + "/libadvrobust-emu-cudnn.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    if (rt == nullptr || blas == nullptr || dnn == nullptr) {
        std::printf("FAIL dlopen: %s\n", dlerror());
        return 1;
    }
    auto cuInit = sym<int (*)(unsigned)>(rt, "cuInit");
    auto cuDeviceGet = sym<int (*)(int*, int)>(rt, "cuDeviceGet");
    auto cuRetain = sym<int (*)(void**, int)>(rt, "cuDevicePrimaryCtxRetain");
    auto cuSetCurrent = sym<int (*)(void*)>(rt, "cuCtxSetCurrent");
    auto cuMemAlloc = sym<int (*)(uint64_t*, size_t)>(rt, "cuMemAlloc_v2");
    auto counters = sym<int (*)(const char*, uint64_t*)>(rt, "emu_counters_read");
    auto create = sym<decltype(&cublasCreate_v2)>(blas, "cublasCreate_v2");
    auto sgemm = sym<decltype(&cublasSgemm_v2)>(blas, "cublasSgemm_v2");
    auto dnnCreate = sym<decltype(&cudnnCreate)>(dnn, "cudnnCreate");
    if (g_failed) return 1;
    int dev = 0;
    void* ctx = nullptr;
    expect(cuInit(0) == 0 && cuDeviceGet(&dev, 0) == 0 && cuRetain(&ctx, dev) == 0 && cuSetCurrent(ctx) == 0,
           "runtime context");
    uint64_t before[32] = {0}, after[32] = {0};  // EmuCounters: library_calls is the second field
    counters(nullptr, before);
    cublasHandle_t h = nullptr;
    cudnnHandle_t dh = nullptr;
    expect(create(&h) == CUBLAS_STATUS_SUCCESS && dnnCreate(&dh) == CUDNN_STATUS_SUCCESS, "create handles");
    counters(nullptr, after);
    expect(after[1] - before[1] == 2, "the runtime counted both library calls");
    float host[4] = {1, 2, 3, 4};
    const float one = 1.0f, zero = 0.0f;
    expect(sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, host, 2, host, 2, &zero, host, 2) ==
               CUBLAS_STATUS_EXECUTION_FAILED,
           "a host pointer is refused by the runtime's range check");
    uint64_t d = 0;
    expect(cuMemAlloc(&d, 64) == 0, "cuMemAlloc_v2");
    auto* p = reinterpret_cast<float*>(d);
    for (int i = 0; i < 4; i++) p[i] = (float)(i + 1);
    expect(sgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, p, 2, p, 2, &zero, p + 8, 2) == CUBLAS_STATUS_SUCCESS &&
               p[8] == 7 && p[11] == 22,
           "device memory is accepted and the product is right");
    std::printf("runtime_hooks: %s\n", g_failed ? "FAILED" : "passed");
    return g_failed ? 1 : 0;
}
