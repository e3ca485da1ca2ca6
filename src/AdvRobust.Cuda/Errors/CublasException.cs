using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A failed cuBLAS call: status name, cuBLAS's message and the call text.</summary>
public sealed class CublasException : Exception
{
    public CublasException(cublasStatus_t status, string call)
        : base($"{Marshal.PtrToStringUTF8(Cublas.cublasGetStatusName(status))} ({(int)status}): " +
               $"{Marshal.PtrToStringUTF8(Cublas.cublasGetStatusString(status))} in `{call}`")
    {
        Status = status;
    }

    public cublasStatus_t Status { get; }

    public static void Check(cublasStatus_t status, [CallerArgumentExpression(nameof(status))] string? call = null)
    {
        if (status != cublasStatus_t.CUBLAS_STATUS_SUCCESS) throw new CublasException(status, call ?? "?");
    }
}
