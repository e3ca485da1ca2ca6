// NCCL 2.x types the stand-in exports, re-declared from nccl.h's documented API (names and values as in the header;
// the engine's C# declarations, src/AdvRobust.Cuda/Interop/Nccl.cs, use the same values).
#pragma once
#include <cstddef>

#define NCCL_UNIQUE_ID_BYTES 128
// The version the stand-in reports: 2.21.5 (NCCL_VERSION(2, 21, 5) = 2·10000 + 21·100 + 5).
#define NCCL_VERSION_CODE_EMULATED 22105

typedef struct CUstream_st* cudaStream_t;
typedef struct ncclComm* ncclComm_t;
typedef struct {
    char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7,
} ncclResult_t;

typedef enum {
    ncclInt8 = 0, ncclUint8 = 1, ncclInt32 = 2, ncclUint32 = 3, ncclInt64 = 4, ncclUint64 = 5,
    ncclFloat16 = 6, ncclFloat32 = 7, ncclFloat64 = 8, ncclBfloat16 = 9,
} ncclDataType_t;

typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;
