// libadvrobust-emu-nccl.so: the NCCL 2.x calls the engine binds (src/AdvRobust.Cuda/Interop/Nccl.cs), run on the host
// between the ranks' processes (or threads) through POSIX shared memory; no MPI and no network inside.
//
// Unique id (128 bytes): "ARNCCL01", then 32 random hex characters that name the rendezvous segment
// /advrobust-nccl-<hex>, then random bytes. ncclCommInitRank: rank 0 creates the segment (O_EXCL) and marks it ready;
// the others open it (retrying until it is ready); all meet at a barrier, after which rank 0 unlinks the name (the
// mappings stay valid until each rank's ncclCommDestroy), so nothing is left in /dev/shm.
// Segment: a header (rank count, a generation barrier) and one slot of SlotBytes per rank. A collective moves its data
// in slot-sized chunks: each rank writes its chunk into its slot, barrier, each rank reads the slots, barrier (the
// slots are free again). The barrier is a counter plus a generation number (atomics); waiters spin with sched_yield,
// then sleep 100 µs per check; a peer absent for ADVROBUST_EMU_NCCL_TIMEOUT_S seconds (default 600) fails the call
// (ncclSystemError), so a dead rank does not hang the job forever.
// All-reduce: float32 with sum, prod, max, min or avg (avg = sum / nranks); the reduction runs in rank order
// (((x0 + x1) + x2) …) on every rank, so every rank gets bit-identical results, deterministic from run to run. Other
// data types: ncclInvalidArgument with the reason on stderr and in ncclGetLastError. Broadcast: any data type (bytes).
// Streams: the emulator runs kernels and library work synchronously; a collective runs at call time through the
// runtime's stream hook (emu_lib.h), which records it as a graph node instead when the stream captures a graph.
// Groups: ncclGroupStart/End nest; calls inside a group run at once in call order (every rank issues the same order,
// as NCCL requires), which gives the same results as NCCL's fused launch.
// Device pointers are host pointers (the emulator's device memory is in-process); each buffer's range is checked
// against live device allocations when the runtime is loaded.
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "emu_lib.h"
#include "nccl_types.h"

namespace {

constexpr char Magic[8] = {'A', 'R', 'N', 'C', 'C', 'L', '0', '1'};
constexpr size_t NameHex = 32;
constexpr size_t SlotBytes = 1 << 20;
constexpr uint32_t ReadyMark = 0x4e43434cu;  // "NCCL"
constexpr int MaxRanks = 1024;

struct Header {
    std::atomic<uint32_t> ready;
    int32_t nranks;
    std::atomic<uint32_t> arrived;
    std::atomic<uint32_t> generation;
};

constexpr size_t HeaderBytes = 64;
static_assert(sizeof(Header) <= HeaderBytes, "header fits its cache line");

}  // namespace

struct ncclComm {
    int rank = 0, nranks = 0;
    void* base = nullptr;
    size_t bytes = 0;
    Header* header() const { return static_cast<Header*>(base); }
    unsigned char* slot(int r) const { return static_cast<unsigned char*>(base) + HeaderBytes + (size_t)r * SlotBytes; }
};

namespace {

std::mutex g_comms_gate;
std::set<ncclComm_t> g_comms;
thread_local int t_group_depth = 0;

bool live(ncclComm_t c) {
    std::lock_guard<std::mutex> lock(g_comms_gate);
    return c != nullptr && g_comms.count(c) != 0;
}

ncclResult_t fail(ncclResult_t result, const char* format, ...) __attribute__((format(printf, 2, 3)));
ncclResult_t fail(ncclResult_t result, const char* format, ...) {
    char message[768];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof message, format, args);
    va_end(args);
    std::fprintf(stderr, "advrobust-emu-nccl: %s\n", message);
    emu::set_last_error("%s", message);
    return result;
}

double timeout_seconds() {
    const char* s = std::getenv("ADVROBUST_EMU_NCCL_TIMEOUT_S");
    double v = s != nullptr ? std::atof(s) : 0.0;
    return v > 0 ? v : 600.0;
}

// Waits until `done()`; false after the timeout.
template <class F>
bool wait_until(F done) {
    auto start = std::chrono::steady_clock::now();
    const double limit = timeout_seconds();
    for (long spins = 0;; spins++) {
        if (done()) return true;
        if (spins < 1000) {
            sched_yield();
            continue;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        if ((spins & 255) == 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > limit)
            return false;
    }
}

// All ranks of the communicator meet here. The last to arrive resets the count and opens the next generation.
bool barrier(ncclComm* c) {
    Header* h = c->header();
    uint32_t gen = h->generation.load(std::memory_order_acquire);
    if (h->arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == (uint32_t)c->nranks) {
        h->arrived.store(0, std::memory_order_relaxed);
        h->generation.fetch_add(1, std::memory_order_acq_rel);
        return true;
    }
    return wait_until([&] { return h->generation.load(std::memory_order_acquire) != gen; });
}

ncclResult_t barrier_failed(const char* function, const ncclComm* c) {
    return fail(ncclSystemError, "%s: rank %d of %d waited %.0f s for the other ranks (ADVROBUST_EMU_NCCL_TIMEOUT_S); "
                "a peer is gone or never made the same call", function, c->rank, c->nranks, timeout_seconds());
}

std::string segment_name(const ncclUniqueId& id) {
    return "/advrobust-nccl-" + std::string(id.internal + sizeof Magic, NameHex);
}

bool valid_id(const ncclUniqueId& id) {
    if (std::memcmp(id.internal, Magic, sizeof Magic) != 0) return false;
    for (size_t i = 0; i < NameHex; i++)
        if (std::strchr("0123456789abcdef", id.internal[sizeof Magic + i]) == nullptr) return false;
    return true;
}

size_t type_bytes(ncclDataType_t t) {
    switch (t) {
        case ncclInt8: case ncclUint8: return 1;
        case ncclFloat16: case ncclBfloat16: return 2;
        case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
        case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
        default: return 0;
    }
}

ncclResult_t check_buffers(const char* function, const void* send, const void* recv, size_t bytes) {
    char message[768];
    if (emu::check_range(send, bytes, function, "sendbuff", message, sizeof message) ||
        emu::check_range(recv, bytes, function, "recvbuff", message, sizeof message))
        return fail(ncclInvalidArgument, "%s", message);
    return ncclSuccess;
}

struct AllReduce {
    const float* send;
    float* recv;
    size_t count;
    ncclRedOp_t op;
    ncclComm* comm;

    int operator()() const {
        const int n = comm->nranks;
        const size_t chunk = SlotBytes / sizeof(float);
        for (size_t at = 0; at < count; at += chunk) {
            const size_t len = count - at < chunk ? count - at : chunk;
            std::memcpy(comm->slot(comm->rank), send + at, len * sizeof(float));
            if (!barrier(comm)) return barrier_failed("ncclAllReduce", comm);
            for (size_t i = 0; i < len; i++) {
                float acc = reinterpret_cast<const float*>(comm->slot(0))[i];
                for (int r = 1; r < n; r++) {
                    const float x = reinterpret_cast<const float*>(comm->slot(r))[i];
                    switch (op) {
                        case ncclSum: case ncclAvg: acc += x; break;
                        case ncclProd: acc *= x; break;
                        case ncclMax: acc = x > acc ? x : acc; break;
                        case ncclMin: acc = x < acc ? x : acc; break;
                        default: break;
                    }
                }
                recv[at + i] = op == ncclAvg ? acc / (float)n : acc;
            }
            if (!barrier(comm)) return barrier_failed("ncclAllReduce", comm);
        }
        emu::mark_written(recv, count * sizeof(float));
        return ncclSuccess;
    }
};

struct Broadcast {
    const unsigned char* send;
    unsigned char* recv;
    size_t bytes;
    int root;
    ncclComm* comm;

    int operator()() const {
        for (size_t at = 0; at < bytes; at += SlotBytes) {
            const size_t len = bytes - at < SlotBytes ? bytes - at : SlotBytes;
            if (comm->rank == root) std::memcpy(comm->slot(0), send + at, len);
            if (!barrier(comm)) return barrier_failed("ncclBroadcast", comm);
            std::memcpy(recv + at, comm->slot(0), len);  // the root copies its own data when send != recv
            if (!barrier(comm)) return barrier_failed("ncclBroadcast", comm);
        }
        emu::mark_written(recv, bytes);
        return ncclSuccess;
    }
};

ncclResult_t submitted(int status) {
    if (status == emu::CaptureInvalidated) return fail(ncclInvalidUsage, "the stream's graph capture was invalidated");
    return static_cast<ncclResult_t>(status);
}

}  // namespace

EMU_EXPORT ncclResult_t ncclGetVersion(int* version) {
    emu::count_call("nccl", "ncclGetVersion");
    if (version == nullptr) return fail(ncclInvalidArgument, "ncclGetVersion: version is null");
    *version = NCCL_VERSION_CODE_EMULATED;
    return ncclSuccess;
}

EMU_EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
    emu::count_call("nccl", "ncclGetUniqueId");
    if (uniqueId == nullptr) return fail(ncclInvalidArgument, "ncclGetUniqueId: uniqueId is null");
    std::random_device device;
    std::mt19937_64 random(((uint64_t)device() << 32) ^ device() ^ (uint64_t)getpid() ^
                           (uint64_t)std::chrono::steady_clock::now().time_since_epoch().count());
    std::memcpy(uniqueId->internal, Magic, sizeof Magic);
    for (size_t i = 0; i < NameHex; i++) uniqueId->internal[sizeof Magic + i] = "0123456789abcdef"[random() % 16];
    for (size_t i = sizeof Magic + NameHex; i < NCCL_UNIQUE_ID_BYTES; i++) uniqueId->internal[i] = (char)random();
    return ncclSuccess;
}

EMU_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
    emu::count_call("nccl", "ncclCommInitRank");
    if (comm == nullptr) return fail(ncclInvalidArgument, "ncclCommInitRank: comm is null");
    if (nranks < 1 || nranks > MaxRanks || rank < 0 || rank >= nranks)
        return fail(ncclInvalidArgument, "ncclCommInitRank: rank %d of %d (the emulator allows 1..%d ranks)", rank,
                    nranks, MaxRanks);
    if (!valid_id(commId))
        return fail(ncclInvalidArgument, "ncclCommInitRank: the unique id was not made by this stand-in's "
                    "ncclGetUniqueId (was it broadcast from rank 0?)");
    const std::string name = segment_name(commId);
    const size_t bytes = HeaderBytes + (size_t)nranks * SlotBytes;
    int fd = -1;
    if (rank == 0) {
        fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0) return fail(ncclSystemError, "ncclCommInitRank: shm_open(%s) failed: %s", name.c_str(),
                                std::strerror(errno));
        if (ftruncate(fd, (off_t)bytes) != 0) {
            int e = errno;
            close(fd);
            shm_unlink(name.c_str());
            return fail(ncclSystemError, "ncclCommInitRank: ftruncate(%s, %zu) failed: %s", name.c_str(), bytes,
                        std::strerror(e));
        }
    } else {
        // Rank 0 may not have created the segment yet, or not sized it.
        bool opened = wait_until([&] {
            if (fd < 0) fd = shm_open(name.c_str(), O_RDWR, 0600);
            struct stat st {};
            return fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size >= bytes;
        });
        if (!opened) {
            if (fd >= 0) close(fd);
            return fail(ncclSystemError, "ncclCommInitRank: rank %d of %d found no segment %s from rank 0 within %.0f s",
                        rank, nranks, name.c_str(), timeout_seconds());
        }
    }
    void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return fail(ncclSystemError, "ncclCommInitRank: mmap failed: %s", std::strerror(errno));
    auto* c = new ncclComm;
    c->rank = rank;
    c->nranks = nranks;
    c->base = base;
    c->bytes = bytes;
    Header* h = c->header();
    if (rank == 0) {
        h->nranks = nranks;
        h->arrived.store(0);
        h->generation.store(0);
        h->ready.store(ReadyMark, std::memory_order_release);
    }
    bool ok = wait_until([&] { return h->ready.load(std::memory_order_acquire) == ReadyMark; }) &&
              h->nranks == nranks && barrier(c);
    if (rank == 0) shm_unlink(name.c_str());
    if (!ok) {
        int seen = h->nranks;
        munmap(base, bytes);
        delete c;
        return fail(ncclInvalidUsage, "ncclCommInitRank: rank %d of %d: the other ranks did not join (rank 0 said %d "
                    "ranks)", rank, nranks, seen);
    }
    {
        std::lock_guard<std::mutex> lock(g_comms_gate);
        g_comms.insert(c);
    }
    *comm = c;
    return ncclSuccess;
}

EMU_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    emu::count_call("nccl", "ncclCommDestroy");
    {
        std::lock_guard<std::mutex> lock(g_comms_gate);
        if (comm == nullptr || g_comms.erase(comm) == 0)
            return fail(ncclInvalidArgument, "ncclCommDestroy: not a live communicator");
    }
    munmap(comm->base, comm->bytes);
    delete comm;
    return ncclSuccess;
}

EMU_EXPORT ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                                      ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    emu::count_call("nccl", "ncclAllReduce");
    if (!live(comm)) return fail(ncclInvalidArgument, "ncclAllReduce: not a live communicator");
    if (datatype != ncclFloat32)
        return fail(ncclInvalidArgument, "ncclAllReduce: data type %d is not emulated (the stand-in reduces "
                    "ncclFloat32 only)", (int)datatype);
    if (op != ncclSum && op != ncclProd && op != ncclMax && op != ncclMin && op != ncclAvg)
        return fail(ncclInvalidArgument, "ncclAllReduce: reduction operation %d is not emulated (sum, prod, max, min, "
                    "avg)", (int)op);
    if (count == 0) return ncclSuccess;
    if (ncclResult_t r = check_buffers("ncclAllReduce", sendbuff, recvbuff, count * sizeof(float))) return r;
    AllReduce work{static_cast<const float*>(sendbuff), static_cast<float*>(recvbuff), count, op, comm};
    return submitted(emu::submit(stream, "nccl", "ncclAllReduce", work));
}

EMU_EXPORT ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                                      int root, ncclComm_t comm, cudaStream_t stream) {
    emu::count_call("nccl", "ncclBroadcast");
    if (!live(comm)) return fail(ncclInvalidArgument, "ncclBroadcast: not a live communicator");
    const size_t size = type_bytes(datatype);
    if (size == 0) return fail(ncclInvalidArgument, "ncclBroadcast: unknown data type %d", (int)datatype);
    if (root < 0 || root >= comm->nranks)
        return fail(ncclInvalidArgument, "ncclBroadcast: root %d of %d ranks", root, comm->nranks);
    if (count == 0) return ncclSuccess;
    const size_t bytes = count * size;
    char message[768];
    if (comm->rank == root && emu::check_range(sendbuff, bytes, "ncclBroadcast", "sendbuff", message, sizeof message))
        return fail(ncclInvalidArgument, "%s", message);
    if (emu::check_range(recvbuff, bytes, "ncclBroadcast", "recvbuff", message, sizeof message))
        return fail(ncclInvalidArgument, "%s", message);
    Broadcast work{static_cast<const unsigned char*>(sendbuff), static_cast<unsigned char*>(recvbuff), bytes, root,
                   comm};
    return submitted(emu::submit(stream, "nccl", "ncclBroadcast", work));
}

EMU_EXPORT ncclResult_t ncclGroupStart() {
    emu::count_call("nccl", "ncclGroupStart");
    t_group_depth++;
    return ncclSuccess;
}

EMU_EXPORT ncclResult_t ncclGroupEnd() {
    emu::count_call("nccl", "ncclGroupEnd");
    if (t_group_depth == 0) return fail(ncclInvalidUsage, "ncclGroupEnd without ncclGroupStart");
    t_group_depth--;
    return ncclSuccess;
}

EMU_EXPORT const char* ncclGetErrorString(ncclResult_t result) {
    switch (result) {
        case ncclSuccess: return "no error";
        case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
        case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
        case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
        case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
        case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
        case ncclRemoteError: return "remote process exited or there was a network error";
        case ncclInProgress: return "NCCL operation in progress";
        default: return "unknown result code";
    }
}

// The stand-in's message for the calling thread's last failure (NCCL's own takes a communicator; this one ignores it).
EMU_EXPORT const char* ncclGetLastError(ncclComm_t) { return emu::last_error(); }

EMU_EXPORT const char* advrobust_emulator_name(void) {
    return "AdvRobust CUDA emulator: NCCL 2.21.5 stand-in (libadvrobust-emu-nccl.so, shared memory between ranks)";
}
