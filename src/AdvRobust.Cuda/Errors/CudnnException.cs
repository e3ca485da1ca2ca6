using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A failed cuDNN call: status, cuDNN's message, its last detailed error and the call text.</summary>
public sealed class CudnnException : Exception
{
    public CudnnException(cudnnStatus_t status, string call)
        : base($"{status} ({(int)status}): {Marshal.PtrToStringUTF8(Cudnn.cudnnGetErrorString(status))} in `{call}`" +
               LastError())
    {
        Status = status;
    }

    public cudnnStatus_t Status { get; }

    public static void Check(cudnnStatus_t status, [CallerArgumentExpression(nameof(status))] string? call = null)
    {
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS) throw new CudnnException(status, call ?? "?");
    }

    private static unsafe string LastError()
    {
        byte* buffer = stackalloc byte[1024];
        Cudnn.cudnnGetLastErrorString(buffer, 1024);
        string text = Marshal.PtrToStringUTF8((nint)buffer) ?? "";
        return text.Length == 0 ? "" : $" ({text})";
    }
}
