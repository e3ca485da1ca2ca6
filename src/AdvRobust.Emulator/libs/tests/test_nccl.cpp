// Self-tests of libadvrobust-emu-nccl.so: three forked ranks share one id, all-reduce (sum in rank order, bit for bit;
// avg; in place and out of place; more than one shared-memory slot), broadcast from a non-zero root, a group,
// the refused data type, error strings, version; the segment name is gone afterwards; a missing peer times out.
#include <sys/mman.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "../nccl_types.h"

int g_failures = 0, g_checks = 0;

extern "C" {
ncclResult_t ncclGetVersion(int*);
ncclResult_t ncclGetUniqueId(ncclUniqueId*);
ncclResult_t ncclCommInitRank(ncclComm_t*, int, ncclUniqueId, int);
ncclResult_t ncclCommDestroy(ncclComm_t);
ncclResult_t ncclAllReduce(const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
ncclResult_t ncclBroadcast(const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
ncclResult_t ncclGroupStart();
ncclResult_t ncclGroupEnd();
const char* ncclGetErrorString(ncclResult_t);
const char* ncclGetLastError(ncclComm_t);
}

namespace {

constexpr int Ranks = 3;
constexpr size_t Big = 300001;  // 1.2 MB of floats: two 1 MiB slots

// Rank r's i-th value: magnitudes far apart so that the summation order shows in the last bits.
float value(int r, size_t i) { return (r == 0 ? 1e8f : r == 1 ? -1e8f + 3.0f : 0.3f) * (1.0f + (float)(i % 7) / 13.0f); }

void rank_main(int rank, ncclUniqueId id) {
    ncclComm_t comm = nullptr;
    CHECK_EQ(ncclCommInitRank(&comm, Ranks, id, rank), ncclSuccess);
    std::vector<float> send(Big), recv(Big, -1.0f);
    for (size_t i = 0; i < Big; i++) send[i] = value(rank, i);
    CHECK_EQ(ncclAllReduce(send.data(), recv.data(), Big, ncclFloat32, ncclSum, comm, nullptr), ncclSuccess);
    bool exact = true;
    for (size_t i = 0; i < Big; i++) {
        float expected = value(0, i);
        for (int r = 1; r < Ranks; r++) expected += value(r, i);
        exact = exact && recv[i] == expected;
    }
    CHECK(exact);
    // In place, avg, inside a group with a broadcast of ints from rank 1.
    std::vector<float> v = {1.0f * (rank + 1), 2.0f * (rank + 1)};
    std::vector<int> b = {rank == 1 ? 41 : 0, rank == 1 ? -7 : 0, 5};
    CHECK_EQ(ncclGroupStart(), ncclSuccess);
    CHECK_EQ(ncclAllReduce(v.data(), v.data(), 2, ncclFloat32, ncclAvg, comm, nullptr), ncclSuccess);
    CHECK_EQ(ncclBroadcast(b.data(), b.data(), 2, ncclInt32, 1, comm, nullptr), ncclSuccess);
    CHECK_EQ(ncclGroupEnd(), ncclSuccess);
    CHECK_EQ(v[0], 2); CHECK_EQ(v[1], 4);
    CHECK_EQ(b[0], 41); CHECK_EQ(b[1], -7); CHECK_EQ(b[2], 5);
    CHECK_EQ(ncclAllReduce(v.data(), v.data(), 2, ncclFloat32, ncclMax, comm, nullptr), ncclSuccess);
    // Refused before any rank waits, so every rank can be refused alone.
    CHECK_EQ(ncclAllReduce(b.data(), b.data(), 2, ncclInt32, ncclSum, comm, nullptr), ncclInvalidArgument);
    CHECK(std::strstr(ncclGetLastError(comm), "ncclFloat32 only") != nullptr);
    CHECK_EQ(ncclBroadcast(b.data(), b.data(), 2, ncclInt32, Ranks, comm, nullptr), ncclInvalidArgument);
    CHECK_EQ(ncclCommDestroy(comm), ncclSuccess);
    CHECK_EQ(ncclCommDestroy(comm), ncclInvalidArgument);
}

bool segment_exists(const ncclUniqueId& id) {
    std::string name = "/advrobust-nccl-" + std::string(id.internal + 8, 32);
    int fd = shm_open(name.c_str(), O_RDONLY, 0);
    if (fd >= 0) close(fd);
    return fd >= 0;
}

}  // namespace

int main() {
    int version = 0;
    CHECK_EQ(ncclGetVersion(&version), ncclSuccess);
    CHECK_EQ(version, 22105);
    CHECK(std::strcmp(ncclGetErrorString(ncclInvalidArgument), "invalid argument (run with NCCL_DEBUG=WARN for details)") == 0);
    ncclUniqueId id{}, other{};
    CHECK_EQ(ncclGetUniqueId(&id), ncclSuccess);
    CHECK_EQ(ncclGetUniqueId(&other), ncclSuccess);
    CHECK(std::memcmp(id.internal, other.internal, sizeof id.internal) != 0);
    pid_t pids[Ranks];
    for (int r = 0; r < Ranks; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            rank_main(r, id);
            std::fflush(stdout);
            _exit(g_failures == 0 ? 0 : 1);
        }
    }
    for (int r = 0; r < Ranks; r++) {
        int status = 0;
        waitpid(pids[r], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK(!segment_exists(id));
    // A bad id, and a peer that never comes (1 s timeout).
    ncclComm_t comm = nullptr;
    ncclUniqueId bad{};
    CHECK_EQ(ncclCommInitRank(&comm, 2, bad, 0), ncclInvalidArgument);
    setenv("ADVROBUST_EMU_NCCL_TIMEOUT_S", "1", 1);
    CHECK_EQ(ncclCommInitRank(&comm, 2, other, 0), ncclInvalidUsage);
    CHECK(!segment_exists(other));
    std::printf("test_nccl: %d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
