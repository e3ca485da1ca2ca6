using AdvRobust.Core;

namespace AdvRobust.Cuda;

// PLACEHOLDER — the lead is writing the real CudaBackend; replaced before commit of the CUDA work.
public sealed class CudaBackend
{
    public static IBackend Create() => throw new InvalidOperationException("CudaBackend is not written yet");
}
