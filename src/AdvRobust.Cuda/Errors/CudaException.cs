using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A failed CUDA driver call: the enum name, the driver's message and the call text.</summary>
public sealed class CudaException : Exception
{
    public CudaException(CUresult result, string call, string? detail = null)
        : base($"{result} ({(int)result}): {Describe(result)} in `{call}`{(detail is null ? "" : ". " + detail)}")
    {
        Result = result;
    }

    public CUresult Result { get; }

    /// <summary>The one chokepoint for driver results.</summary>
    public static void Check(CUresult result, [CallerArgumentExpression(nameof(result))] string? call = null)
    {
        if (result != CUresult.CUDA_SUCCESS) throw new CudaException(result, call ?? "?");
    }

    private static string Describe(CUresult result)
    {
        try
        {
            return CudaDriver.cuGetErrorString(result, out nint text) == CUresult.CUDA_SUCCESS && text != 0
                ? Marshal.PtrToStringUTF8(text) ?? "no description"
                : "no description";
        }
        catch (DllNotFoundException)
        {
            return "driver not loaded";
        }
    }
}
