using System.Runtime.InteropServices;

namespace AdvRobust.Cuda.Interop;

// Raw declarations of NVRTC (nvrtc.h, CUDA 13.0). C names verbatim, no logic.

#pragma warning disable CA1707, IDE1006
public enum nvrtcResult
{
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
    NVRTC_ERROR_BUILTIN_OPERATION_FAILURE = 7,
    NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION = 8,
    NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION = 9,
    NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID = 10,
    NVRTC_ERROR_INTERNAL_ERROR = 11,
}

public static unsafe partial class Nvrtc
{
    private const string Lib = NativeLibraries.Nvrtc;

    [LibraryImport(Lib)] public static partial nint nvrtcGetErrorString(nvrtcResult result);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcVersion(out int major, out int minor);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcGetNumSupportedArchs(out int numArchs);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcGetSupportedArchs(int* supportedArchs);
    [LibraryImport(Lib)]
    public static partial nvrtcResult nvrtcCreateProgram(out nint prog, byte* src, byte* name, int numHeaders,
        byte** headers, byte** includeNames);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcDestroyProgram(ref nint prog);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcCompileProgram(nint prog, int numOptions, byte** options);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcGetCUBINSize(nint prog, out nuint cubinSizeRet);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcGetCUBIN(nint prog, byte* cubin);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcGetProgramLogSize(nint prog, out nuint logSizeRet);
    [LibraryImport(Lib)] public static partial nvrtcResult nvrtcGetProgramLog(nint prog, byte* log);
}
#pragma warning restore CA1707, IDE1006
