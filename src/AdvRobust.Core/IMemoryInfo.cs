namespace AdvRobust.Core;

/// <summary>
/// A backend that can say how much memory a new batch may use: free device memory on CUDA (cuMemGetInfo), free
/// physical memory on the CPU. <see cref="Nn.BatchMemory"/> reads it before a batch starts; a backend without it is
/// treated as the CPU.
/// </summary>
public interface IMemoryInfo
{
    /// <summary>Bytes a new allocation can still get now.</summary>
    long AvailableBytes { get; }
}
