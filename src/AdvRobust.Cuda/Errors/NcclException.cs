using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A failed NCCL call: the result's name, NCCL's message and the call text.</summary>
public sealed class NcclException : Exception
{
    public NcclException(ncclResult_t result, string call)
        : base($"{result} ({(int)result}): {Marshal.PtrToStringUTF8(Nccl.ncclGetErrorString(result))} in `{call}`")
    {
        Result = result;
    }

    public ncclResult_t Result { get; }

    /// <summary>The one chokepoint for NCCL results.</summary>
    public static void Check(ncclResult_t result, [CallerArgumentExpression(nameof(result))] string? call = null)
    {
        if (result != ncclResult_t.ncclSuccess) throw new NcclException(result, call ?? "?");
    }
}
