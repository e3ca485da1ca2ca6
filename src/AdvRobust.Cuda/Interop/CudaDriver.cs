using System.Runtime.InteropServices;

namespace AdvRobust.Cuda.Interop;

// Raw declarations of the CUDA driver API (cuda.h, CUDA 13.0). C names verbatim, blittable types, no logic.
// CUdeviceptr is a 64-bit unsigned integer (ulong); CUcontext, CUstream, CUevent, CUmodule, CUfunction and
// CUmemoryPool are opaque pointers (nint). Versioned symbols are named as cuda.h #defines them (cuMemAlloc → _v2).

#pragma warning disable CA1707, IDE1006 // C names kept verbatim
public enum CUresult
{
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_DEINITIALIZED = 4,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CUDA_ERROR_INVALID_SOURCE = 300,
    CUDA_ERROR_FILE_NOT_FOUND = 301,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_ILLEGAL_STATE = 401,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_LAUNCH_TIMEOUT = 702,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD = 908,
    CUDA_ERROR_UNKNOWN = 999,
}

public enum CUdevice_attribute
{
    CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13,
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
    CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
    CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
    CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED = 115,
}

public enum CUmemPool_attribute
{
    CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4,
    CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT = 5,
    CU_MEMPOOL_ATTR_USED_MEM_CURRENT = 7,
}

public enum CUstreamCaptureMode
{
    CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
    CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
    CU_STREAM_CAPTURE_MODE_RELAXED = 2,
}

public enum CUstreamCaptureStatus
{
    CU_STREAM_CAPTURE_STATUS_NONE = 0,
    CU_STREAM_CAPTURE_STATUS_ACTIVE = 1,
    CU_STREAM_CAPTURE_STATUS_INVALIDATED = 2,
}

public static partial class CudaDriver
{
    private const string Lib = NativeLibraries.Cuda;

    public const uint CU_STREAM_NON_BLOCKING = 0x1;
    public const uint CU_EVENT_DEFAULT = 0x0;

    // ---- initialization, errors, versions ----
    [LibraryImport(Lib)] public static partial CUresult cuInit(uint flags);
    [LibraryImport(Lib)] public static partial CUresult cuDriverGetVersion(out int driverVersion);
    [LibraryImport(Lib)] public static partial CUresult cuGetErrorName(CUresult error, out nint pStr);
    [LibraryImport(Lib)] public static partial CUresult cuGetErrorString(CUresult error, out nint pStr);

    // ---- devices ----
    [LibraryImport(Lib)] public static partial CUresult cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] public static partial CUresult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] public static unsafe partial CUresult cuDeviceGetName(byte* name, int len, int dev);
    [LibraryImport(Lib)] public static partial CUresult cuDeviceGetAttribute(out int pi, CUdevice_attribute attrib, int dev);
    [LibraryImport(Lib)] public static partial CUresult cuDeviceTotalMem_v2(out nuint bytes, int dev);

    // ---- primary context ----
    [LibraryImport(Lib)] public static partial CUresult cuDevicePrimaryCtxRetain(out nint pctx, int dev);
    [LibraryImport(Lib)] public static partial CUresult cuDevicePrimaryCtxRelease_v2(int dev);
    [LibraryImport(Lib)] public static partial CUresult cuCtxSetCurrent(nint ctx);
    [LibraryImport(Lib)] public static partial CUresult cuCtxGetCurrent(out nint pctx);
    [LibraryImport(Lib)] public static partial CUresult cuCtxSynchronize();
    [LibraryImport(Lib)] public static partial CUresult cuMemGetInfo_v2(out nuint free, out nuint total);

    // ---- streams and events ----
    [LibraryImport(Lib)] public static partial CUresult cuStreamCreate(out nint phStream, uint flags);
    [LibraryImport(Lib)] public static partial CUresult cuStreamDestroy_v2(nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuStreamSynchronize(nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuEventCreate(out nint phEvent, uint flags);
    [LibraryImport(Lib)] public static partial CUresult cuEventDestroy_v2(nint hEvent);
    [LibraryImport(Lib)] public static partial CUresult cuEventRecord(nint hEvent, nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuEventSynchronize(nint hEvent);
    [LibraryImport(Lib)] public static partial CUresult cuEventQuery(nint hEvent);
    [LibraryImport(Lib)] public static partial CUresult cuStreamWaitEvent(nint hStream, nint hEvent, uint flags);
    [LibraryImport(Lib)] public static partial CUresult cuEventElapsedTime_v2(out float pMilliseconds, nint hStart, nint hEnd);
    [LibraryImport(Lib)] public static partial CUresult cuEventElapsedTime(out float pMilliseconds, nint hStart, nint hEnd);

    // ---- memory: stream-ordered pool, pinned host buffers, async copies ----
    [LibraryImport(Lib)] public static partial CUresult cuDeviceGetDefaultMemPool(out nint poolOut, int dev);
    [LibraryImport(Lib)] public static unsafe partial CUresult cuMemPoolSetAttribute(nint pool, CUmemPool_attribute attr, void* value);
    [LibraryImport(Lib)] public static unsafe partial CUresult cuMemPoolGetAttribute(nint pool, CUmemPool_attribute attr, void* value);
    [LibraryImport(Lib)] public static partial CUresult cuMemPoolTrimTo(nint pool, nuint minBytesToKeep);
    [LibraryImport(Lib)] public static partial CUresult cuMemAllocAsync(out ulong dptr, nuint bytesize, nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuMemFreeAsync(ulong dptr, nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuMemAlloc_v2(out ulong dptr, nuint bytesize);
    [LibraryImport(Lib)] public static partial CUresult cuMemFree_v2(ulong dptr);
    [LibraryImport(Lib)] public static partial CUresult cuMemAllocHost_v2(out nint pp, nuint bytesize);
    [LibraryImport(Lib)] public static partial CUresult cuMemFreeHost(nint p);
    [LibraryImport(Lib)] public static partial CUresult cuMemcpyHtoDAsync_v2(ulong dstDevice, nint srcHost, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuMemcpyDtoHAsync_v2(nint dstHost, ulong srcDevice, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuMemcpyDtoDAsync_v2(ulong dstDevice, ulong srcDevice, nuint byteCount, nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuMemsetD32Async(ulong dstDevice, uint ui, nuint n, nint hStream);

    // ---- modules and launches ----
    [LibraryImport(Lib)] public static partial CUresult cuModuleLoadData(out nint module, nint image);
    [LibraryImport(Lib)] public static partial CUresult cuModuleUnload(nint hmod);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial CUresult cuModuleGetFunction(out nint hfunc, nint hmod, string name);
    [LibraryImport(Lib)]
    public static unsafe partial CUresult cuLaunchKernel(nint f, uint gridDimX, uint gridDimY, uint gridDimZ,
        uint blockDimX, uint blockDimY, uint blockDimZ, uint sharedMemBytes, nint hStream, void** kernelParams, void** extra);

    // ---- stream capture and graphs (cuda.h #defines cuStreamBeginCapture as _v2 and cuGraphInstantiate as
    // cuGraphInstantiateWithFlags; CUgraph and CUgraphExec are opaque pointers) ----
    [LibraryImport(Lib)] public static partial CUresult cuStreamBeginCapture_v2(nint hStream, CUstreamCaptureMode mode);
    [LibraryImport(Lib)] public static partial CUresult cuStreamEndCapture(nint hStream, out nint phGraph);
    [LibraryImport(Lib)] public static partial CUresult cuStreamIsCapturing(nint hStream, out CUstreamCaptureStatus captureStatus);
    [LibraryImport(Lib)] public static partial CUresult cuGraphInstantiateWithFlags(out nint phGraphExec, nint hGraph, ulong flags);
    [LibraryImport(Lib)] public static partial CUresult cuGraphLaunch(nint hGraphExec, nint hStream);
    [LibraryImport(Lib)] public static partial CUresult cuGraphExecDestroy(nint hGraphExec);
    [LibraryImport(Lib)] public static partial CUresult cuGraphDestroy(nint hGraph);
}
#pragma warning restore CA1707, IDE1006
