namespace AdvRobust.Cuda;

/// <summary>
/// How <see cref="Kernels"/> launches one kernel: its family (.cu file), entry point, the threads per block and the
/// dynamic shared memory (bytes) its launcher asks for. Grids vary per call; these do not.
/// </summary>
public sealed record KernelLaunch(string Family, string Name, uint BlockThreads, uint DynamicSharedBytes);
