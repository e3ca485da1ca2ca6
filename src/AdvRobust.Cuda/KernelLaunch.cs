namespace AdvRobust.Cuda;

/// <summary>
/// How <see cref="Kernels"/> launches one kernel: its family (.cu file), entry point, the threads per block and the
/// dynamic shared memory (bytes) its launcher asks for. Grids vary per call; these do not.
/// </summary>
public sealed record KernelLaunch(string Family, string Name, uint BlockThreads, uint DynamicSharedBytes)
{
    private static int s_count;

    /// <summary>A small number unique to this launch description: the index of its function handle in
    /// <see cref="Kernels"/>' table, so that a launch finds its CUfunction without a lock or a lookup.</summary>
    internal int Slot { get; } = Interlocked.Increment(ref s_count) - 1;

    /// <summary>Equality is the four described fields; the slot is bookkeeping.</summary>
    public bool Equals(KernelLaunch? other) =>
        other is not null && Family == other.Family && Name == other.Name && BlockThreads == other.BlockThreads &&
        DynamicSharedBytes == other.DynamicSharedBytes;

    public override int GetHashCode() => HashCode.Combine(Family, Name, BlockThreads, DynamicSharedBytes);
}
