using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AdvRobust.Cuda.Interop;

// Raw declarations of NCCL 2.x (nccl.h, libnccl.so.2), written from the public header's documented API. C names
// verbatim, no logic. Buffers are device pointers (CUdeviceptr), streams CUstream handles. A communicator is an opaque
// pointer (ncclComm_t); the unique id is a 128-byte value that rank 0 makes and every rank passes by value.

#pragma warning disable CA1707, IDE1006
public enum ncclResult_t
{
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7,
}

public enum ncclDataType_t
{
    ncclInt8 = 0,
    ncclUint8 = 1,
    ncclInt32 = 2,
    ncclUint32 = 3,
    ncclInt64 = 4,
    ncclUint64 = 5,
    ncclFloat16 = 6,
    ncclFloat32 = 7,
    ncclFloat64 = 8,
    ncclBfloat16 = 9,
}

public enum ncclRedOp_t { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 }

/// <summary>ncclUniqueId: NCCL_UNIQUE_ID_BYTES (128) opaque bytes, passed by value to ncclCommInitRank.</summary>
[InlineArray(Bytes)]
public struct ncclUniqueId
{
    public const int Bytes = 128;
    private byte _first;
}

public static unsafe partial class Nccl
{
    private const string Lib = NativeLibraries.Nccl;

    [LibraryImport(Lib)] public static partial ncclResult_t ncclGetVersion(out int version);
    [LibraryImport(Lib)] public static partial ncclResult_t ncclGetUniqueId(out ncclUniqueId uniqueId);

    [LibraryImport(Lib)]
    public static partial ncclResult_t ncclCommInitRank(out nint comm, int nranks, ncclUniqueId commId, int rank);

    [LibraryImport(Lib)] public static partial ncclResult_t ncclCommDestroy(nint comm);
    [LibraryImport(Lib)] public static partial nint ncclGetErrorString(ncclResult_t result);

    [LibraryImport(Lib)]
    public static partial ncclResult_t ncclAllReduce(ulong sendbuff, ulong recvbuff, nuint count,
        ncclDataType_t datatype, ncclRedOp_t op, nint comm, nint stream);

    [LibraryImport(Lib)]
    public static partial ncclResult_t ncclBroadcast(ulong sendbuff, ulong recvbuff, nuint count,
        ncclDataType_t datatype, int root, nint comm, nint stream);

    [LibraryImport(Lib)] public static partial ncclResult_t ncclGroupStart();
    [LibraryImport(Lib)] public static partial ncclResult_t ncclGroupEnd();

    /// <summary>NCCL's version code as (major, minor, patch): X·1000 + Y·100 + Z up to 2.8, X·10000 + Y·100 + Z
    /// from 2.9 (NCCL_VERSION in nccl.h).</summary>
    public static (int Major, int Minor, int Patch) DecodeVersion(int code) =>
        code >= 10000 ? (code / 10000, code / 100 % 100, code % 100) : (code / 1000, code / 100 % 10, code % 100);
}
#pragma warning restore CA1707, IDE1006
