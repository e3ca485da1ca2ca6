// graph.cpp — stream capture and CUDA graphs. Between cuStreamBeginCapture_v2 and cuStreamEndCapture, work issued to
// the capturing stream is recorded instead of run: kernel launches (with a copy of their parameter bytes, sized from
// the cubin), async copies and memsets, event records, and library work (the cuBLAS/cuDNN stand-ins hand it over
// through emu_stream_submit). cuGraphLaunch runs the recorded nodes in order, synchronously like all emulated work.
//
// Memory nodes: cuMemAllocAsync on a capturing stream allocates at capture time; when the same capture frees it, the
// free is recorded and the memory becomes the graph's, kept until the last graph or graph exec holding it is
// destroyed, so every replay sees the same addresses (as real graph memory nodes do). A free of memory allocated
// before the capture is recorded as a node that frees it at launch (legal in CUDA; a second launch then fails).
//
// Illegal under capture, as in the real driver: synchronizing the capturing stream, and (capture mode GLOBAL or
// THREAD_LOCAL) "unsafe" calls from the capturing thread — cuCtxSynchronize, cuMemAlloc_v2, cuMemFree_v2,
// cuMemAllocHost_v2 — and library calls that synchronize (cudnnFind*): they return
// CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidate the capture; later work on the stream returns
// CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, and cuStreamEndCapture returns it with no graph.
//
// Counters: each replayed kernel counts as a launch, each replayed library node as a library call, each replayed copy
// or memset as one; cuGraphLaunch counts one graph launch. Nothing recorded counts until it runs (a library call
// recorded into a graph takes back the count its stand-in made on entry).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include "emu_runtime.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace
{
struct Node
{
    std::string what;
    std::function<int()> run;
};

// What a graph and its execs share: the nodes and the memory the graph owns (released with the last holder).
struct GraphData
{
    std::vector<Node> nodes;
    std::vector<uint64_t> owned;
    ~GraphData()
    {
        for (uint64_t p : owned) emu_memory_release_owned(p);
    }
};
struct Graph { std::shared_ptr<GraphData> data; };
struct Exec { std::shared_ptr<GraphData> data; };

struct Capture
{
    std::shared_ptr<GraphData> data = std::make_shared<GraphData>();
    std::vector<uint64_t> allocated;  // by this capture, not yet freed
    bool invalid = false;
    std::string why;
    int mode;
    std::thread::id thread;
};

std::mutex g_gate;
std::map<void*, Capture*> g_captures;  // by stream
std::atomic<int> g_open_captures{0};
thread_local int t_strict_captures = 0;  // captures begun on this thread in mode GLOBAL or THREAD_LOCAL

Capture* capture_of(void* stream)
{
    auto it = g_captures.find(stream);
    return it == g_captures.end() ? nullptr : it->second;
}

int invalidate(Capture* c, int code, const char* call, const char* why)
{
    if (!c->invalid)
    {
        c->invalid = true;
        c->why = std::string(call) + ": " + why;
    }
    return emu_fail(code, "%s: %s; the stream capture is invalidated", call, why);
}
} // namespace

bool emu_capturing(void* stream)
{
    if (!stream || g_open_captures.load(std::memory_order_relaxed) == 0) return false;
    std::lock_guard<std::mutex> lock(g_gate);
    return capture_of(stream) != nullptr;
}

bool emu_capture_node(void* stream, const char* what, std::function<int()> node, int* result)
{
    if (!stream) return false;
    std::lock_guard<std::mutex> lock(g_gate);
    Capture* c = capture_of(stream);
    if (!c) return false;
    if (c->invalid)
        *result = emu_fail(EMU_STREAM_CAPTURE_INVALIDATED, "%s on a stream whose capture was invalidated (%s)", what,
                           c->why.c_str());
    else
    {
        c->data->nodes.push_back({what, std::move(node)});
        *result = EMU_SUCCESS;
    }
    return true;
}

int emu_capture_sync_point(void* stream, const char* call)
{
    std::lock_guard<std::mutex> lock(g_gate);
    Capture* c = stream ? capture_of(stream) : nullptr;
    if (!c) return EMU_SUCCESS;
    return invalidate(c, EMU_STREAM_CAPTURE_UNSUPPORTED, call, "the stream is capturing a graph and cannot be waited on");
}

int emu_capture_forbid_unsafe(const char* call)
{
    if (t_strict_captures == 0) return EMU_SUCCESS;
    std::lock_guard<std::mutex> lock(g_gate);
    for (auto& [stream, c] : g_captures)
        if (c->thread == std::this_thread::get_id() && c->mode != 2)
            invalidate(c, EMU_STREAM_CAPTURE_UNSUPPORTED, call, "not permitted while this thread captures a graph");
    return emu_fail(EMU_STREAM_CAPTURE_UNSUPPORTED, "%s: not permitted while this thread captures a graph; the "
                                                    "stream capture is invalidated", call);
}

bool emu_capture_allocated(void* stream, uint64_t p)
{
    std::lock_guard<std::mutex> lock(g_gate);
    Capture* c = stream ? capture_of(stream) : nullptr;
    if (!c) return false;
    c->allocated.push_back(p);
    return true;
}

bool emu_capture_free(void* stream, uint64_t p, int* result)
{
    std::lock_guard<std::mutex> lock(g_gate);
    Capture* c = stream ? capture_of(stream) : nullptr;
    if (!c) return false;
    if (c->invalid)
    {
        *result = emu_fail(EMU_STREAM_CAPTURE_INVALIDATED, "cuMemFreeAsync on a stream whose capture was invalidated "
                                                           "(%s)", c->why.c_str());
        return true;
    }
    *result = EMU_SUCCESS;
    for (size_t i = 0; i < c->allocated.size(); i++)
        if (c->allocated[i] == p)
        {
            c->allocated.erase(c->allocated.begin() + (long)i);
            c->data->owned.push_back(p);  // the graph's from now on: same address in every replay
            return true;
        }
    c->data->nodes.push_back({"cuMemFreeAsync", [p] { return emu_memory_release_owned(p); }});
    return true;
}

EXPORT int cuStreamBeginCapture_v2(void* stream, int mode)
{
    if (int r = emu_require_context("cuStreamBeginCapture_v2")) return r;
    if (!stream) return emu_fail(EMU_STREAM_CAPTURE_UNSUPPORTED, "cuStreamBeginCapture_v2: the NULL stream cannot be captured");
    if (int r = emu_check_stream(stream, "cuStreamBeginCapture_v2")) return r;
    if (mode < 0 || mode > 2) return emu_fail(EMU_INVALID_VALUE, "cuStreamBeginCapture_v2: mode %d", mode);
    std::lock_guard<std::mutex> lock(g_gate);
    if (capture_of(stream)) return emu_fail(EMU_ILLEGAL_STATE, "cuStreamBeginCapture_v2: the stream is already capturing");
    auto* c = new Capture();
    c->mode = mode;
    c->thread = std::this_thread::get_id();
    g_captures[stream] = c;
    g_open_captures++;
    if (mode != 2) t_strict_captures++;
    return EMU_SUCCESS;
}
EXPORT int cuStreamBeginCapture(void* stream, int mode) { return cuStreamBeginCapture_v2(stream, mode); }

EXPORT int cuStreamEndCapture(void* stream, void** graph)
{
    if (int r = emu_check_stream(stream, "cuStreamEndCapture")) return r;
    if (!graph) return emu_fail(EMU_INVALID_VALUE, "cuStreamEndCapture: phGraph is null");
    std::unique_ptr<Capture> c;
    {
        std::lock_guard<std::mutex> lock(g_gate);
        Capture* raw = capture_of(stream);
        if (!raw) return emu_fail(EMU_ILLEGAL_STATE, "cuStreamEndCapture: the stream is not capturing");
        if (raw->mode != 2 && raw->thread != std::this_thread::get_id())
            return emu_fail(EMU_STREAM_CAPTURE_WRONG_THREAD, "cuStreamEndCapture: called from another thread than "
                                                             "cuStreamBeginCapture");
        c.reset(raw);
        g_captures.erase(stream);
        g_open_captures--;
        if (c->mode != 2) t_strict_captures--;
    }
    *graph = nullptr;
    if (c->invalid)
        return emu_fail(EMU_STREAM_CAPTURE_INVALIDATED, "cuStreamEndCapture: the capture was invalidated by %s",
                        c->why.c_str());  // the recorded graph (and the memory it owns) is dropped
    *graph = new Graph{c->data};
    return EMU_SUCCESS;
}

EXPORT int cuStreamIsCapturing(void* stream, int* status)
{
    if (int r = emu_check_stream(stream, "cuStreamIsCapturing")) return r;
    if (!status) return emu_fail(EMU_INVALID_VALUE, "cuStreamIsCapturing: captureStatus is null");
    std::lock_guard<std::mutex> lock(g_gate);
    Capture* c = stream ? capture_of(stream) : nullptr;
    *status = !c ? 0 : c->invalid ? 2 : 1;
    return EMU_SUCCESS;
}

EXPORT int cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long flags)
{
    if (int r = emu_require_context("cuGraphInstantiateWithFlags")) return r;
    if (!exec || !graph) return emu_fail(EMU_INVALID_VALUE, "cuGraphInstantiateWithFlags: null exec or graph");
    if (flags != 0) return emu_fail(EMU_INVALID_VALUE, "cuGraphInstantiateWithFlags: flags %llu are not emulated", flags);
    *exec = new Exec{((Graph*)graph)->data};
    return EMU_SUCCESS;
}

EXPORT int cuGraphLaunch(void* exec, void* stream)
{
    if (int r = emu_require_context("cuGraphLaunch")) return r;
    if (int r = emu_check_stream(stream, "cuGraphLaunch")) return r;
    if (!exec) return emu_fail(EMU_INVALID_HANDLE, "cuGraphLaunch: null graph exec");
    {
        std::lock_guard<std::mutex> lock(g_gate);
        if (stream && capture_of(stream))
            return emu_fail(EMU_STREAM_CAPTURE_UNSUPPORTED, "cuGraphLaunch into a capturing stream is not emulated");
    }
    emu_count(C_GRAPH_LAUNCHES);
    auto data = ((Exec*)exec)->data;
    for (size_t i = 0; i < data->nodes.size(); i++)
        if (int r = data->nodes[i].run())
        {
            const char* detail = emu_last_detail(r);
            return emu_fail(r, "cuGraphLaunch: node %zu of %zu (%s) failed: %s", i, data->nodes.size(),
                            data->nodes[i].what.c_str(), detail ? detail : "error");
        }
    return EMU_SUCCESS;
}

EXPORT int cuGraphExecDestroy(void* exec)
{
    if (!exec) return emu_fail(EMU_INVALID_VALUE, "cuGraphExecDestroy: null graph exec");
    delete (Exec*)exec;
    return EMU_SUCCESS;
}

EXPORT int cuGraphDestroy(void* graph)
{
    if (!graph) return emu_fail(EMU_INVALID_VALUE, "cuGraphDestroy: null graph");
    delete (Graph*)graph;
    return EMU_SUCCESS;
}

// ---- the library stand-ins' entry (include/emu_api.h) ----
EXPORT int emu_stream_submit(void* stream, const char* library, const char* function, int (*run)(void*), void* arg,
                             void (*release)(void*))
{
    // The graph owns arg only once the node is recorded; otherwise the caller keeps it (and runs or drops the work).
    struct Held
    {
        void* arg;
        void (*release)(void*);
        bool owned = false;
        ~Held() { if (owned && release) release(arg); }
    };
    auto held = std::make_shared<Held>(Held{arg, release});
    std::string what = std::string(library) + " " + function;
    int result;
    bool captured = emu_capture_node(stream, what.c_str(), [run, held, what] {
        emu_count(C_LIBRARY_CALLS);
        int status = run(held->arg);
        return status == 0 ? EMU_SUCCESS : emu_fail(EMU_LAUNCH_FAILED, "%s returned status %d", what.c_str(), status);
    }, &result);
    if (!captured) return 0;
    if (result != EMU_SUCCESS) return 2;
    held->owned = true;
    // The stand-in counted its call on entry (emu::count_call); recorded, it counts when the graph runs it instead,
    // as a recorded kernel does.
    emu_uncount(C_LIBRARY_CALLS);
    return 1;
}

EXPORT int emu_stream_sync_point(void* stream, const char* function)
{
    return emu_capture_sync_point(stream, function) == EMU_SUCCESS ? 0 : 1;
}
