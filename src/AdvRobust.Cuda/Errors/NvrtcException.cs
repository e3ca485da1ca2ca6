using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A failed NVRTC call. Compilation errors carry the full program log.</summary>
public sealed class NvrtcException : Exception
{
    public NvrtcException(nvrtcResult result, string call, string? log = null)
        : base($"{result} ({(int)result}): {Marshal.PtrToStringUTF8(Nvrtc.nvrtcGetErrorString(result))} in `{call}`" +
               (string.IsNullOrWhiteSpace(log) ? "" : $"\n--- NVRTC log ---\n{log}"))
    {
        Result = result;
        Log = log;
    }

    public nvrtcResult Result { get; }
    public string? Log { get; }

    public static void Check(nvrtcResult result, [CallerArgumentExpression(nameof(result))] string? call = null)
    {
        if (result != nvrtcResult.NVRTC_SUCCESS) throw new NvrtcException(result, call ?? "?");
    }
}
