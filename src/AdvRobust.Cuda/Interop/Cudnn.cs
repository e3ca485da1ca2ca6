using System.Runtime.InteropServices;

namespace AdvRobust.Cuda.Interop;

// Raw declarations of cuDNN 9 (cudnn_graph.h): handle, stream, version and errors. The layer descriptors
// (convolution, batch norm) are declared by the layers that use them. C names verbatim, no logic.

#pragma warning disable CA1707, IDE1006
public enum cudnnStatus_t
{
    CUDNN_STATUS_SUCCESS = 0,
    CUDNN_STATUS_NOT_INITIALIZED = 1001,
    CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH = 1002,
    CUDNN_STATUS_BAD_PARAM = 2000,
    CUDNN_STATUS_NOT_SUPPORTED = 3000,
    CUDNN_STATUS_INTERNAL_ERROR = 4000,
    CUDNN_STATUS_EXECUTION_FAILED = 5000,
}

public static partial class Cudnn
{
    private const string Lib = NativeLibraries.Cudnn;

    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnCreate(out nint handle);
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnDestroy(nint handle);
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnSetStream(nint handle, nint streamId);
    [LibraryImport(Lib)] public static partial nuint cudnnGetVersion();
    [LibraryImport(Lib)] public static partial nuint cudnnGetCudartVersion();
    [LibraryImport(Lib)] public static partial nint cudnnGetErrorString(cudnnStatus_t status);
    [LibraryImport(Lib)] public static unsafe partial void cudnnGetLastErrorString(byte* message, nuint max_size);
}
#pragma warning restore CA1707, IDE1006
