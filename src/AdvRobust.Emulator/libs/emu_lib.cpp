// Runtime hooks, TF32 and last-error plumbing shared by both library stand-ins (see emu_lib.h).
#include "emu_lib.h"

#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

namespace emu {
namespace {

const char* const RuntimeFile = "libadvrobust-emu-cuda.so";

// The runtime library if it is already loaded: first beside this library, then by soname. RTLD_NOLOAD never loads.
void* loaded_runtime() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&loaded_runtime), &info) != 0 && info.dli_fname != nullptr) {
        std::string path = info.dli_fname;
        size_t slash = path.rfind('/');
        if (slash != std::string::npos) {
            path = path.substr(0, slash + 1) + RuntimeFile;
            if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD)) return h;
        }
    }
    return dlopen(RuntimeFile, RTLD_NOW | RTLD_NOLOAD);
}

Hooks find_hooks() {
    Hooks h{emu_check_device_range, emu_count_library_call, emu_mark_initialized, emu_stream_submit,
            emu_stream_sync_point};
    if (h.check != nullptr && h.count != nullptr && h.mark != nullptr && h.submit != nullptr && h.sync_point != nullptr)
        return h;
    if (void* lib = loaded_runtime()) {
        if (h.check == nullptr) h.check = reinterpret_cast<decltype(h.check)>(dlsym(lib, "emu_check_device_range"));
        if (h.count == nullptr) h.count = reinterpret_cast<decltype(h.count)>(dlsym(lib, "emu_count_library_call"));
        if (h.mark == nullptr) h.mark = reinterpret_cast<decltype(h.mark)>(dlsym(lib, "emu_mark_initialized"));
        if (h.submit == nullptr) h.submit = reinterpret_cast<decltype(h.submit)>(dlsym(lib, "emu_stream_submit"));
        if (h.sync_point == nullptr)
            h.sync_point = reinterpret_cast<decltype(h.sync_point)>(dlsym(lib, "emu_stream_sync_point"));
    }
    return h;
}

thread_local std::string t_last_error;

}  // namespace

const Hooks& hooks() {
    // Resolved on the first library call, after the engine has loaded the runtime (it binds cuInit first).
    static const Hooks h = find_hooks();
    return h;
}

void count_call(const char* library, const char* function) {
    if (hooks().count != nullptr) hooks().count(library, function);
}

int check_range(const void* p, size_t bytes, const char* function, const char* what, char* message,
                size_t message_len) {
    if (bytes == 0) return 0;
    std::string label = std::string(function) + ": " + what;
    if (p == nullptr) {
        std::snprintf(message, message_len, "%s is a null device pointer but %zu bytes are accessed", label.c_str(),
                      bytes);
        return 1;
    }
    if (hooks().check == nullptr) return 0;
    char detail[512] = {0};
    if (hooks().check(p, bytes, label.c_str(), detail, sizeof detail) == 0) return 0;
    std::snprintf(message, message_len, "%s [%p, +%zu bytes): %s", label.c_str(), p, bytes,
                  detail[0] != 0 ? detail : "outside every live device allocation");
    return 1;
}

void mark_written(const void* p, size_t bytes) {
    if (bytes != 0 && p != nullptr && hooks().mark != nullptr) hooks().mark(p, bytes);
}

bool sync_refused(void* stream, const char* function) {
    return hooks().sync_point != nullptr && hooks().sync_point(stream, function) != 0;
}

void set_last_error(const char* format, ...) {
    char buffer[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    t_last_error = buffer;
}

const char* last_error() { return t_last_error.c_str(); }

void clear_last_error() { t_last_error.clear(); }

}  // namespace emu
