namespace AdvRobust.Cuda;

/// <summary>
/// The per-SM and per-block limits of one GPU architecture that decide whether a launch fits and how many of its blocks
/// can be resident on an SM at once (the same arithmetic as NVIDIA's occupancy calculator, cuda_occupancy.h).
/// </summary>
/// <param name="RegistersPerSm">32-bit registers per SM ("Number of 32-bit registers per SM": 64 K).</param>
/// <param name="RegistersPerBlock">"Maximum number of 32-bit registers per thread block": 64 K.</param>
/// <param name="RegisterUnit">Registers are allocated per warp in units of this many (256: cuda_occupancy.h
/// <c>regAllocationUnitSize</c>, the occupancy calculator's "Register allocation unit size").</param>
/// <param name="MaxThreadsPerBlock">"Maximum number of threads per block": 1024.</param>
/// <param name="MaxWarpsPerSm">"Maximum number of resident warps per SM": 64 (= 2048 threads).</param>
/// <param name="MaxBlocksPerSm">"Maximum number of resident blocks per SM": 32.</param>
/// <param name="SharedPerSm">"Maximum amount of shared memory per SM", the largest carveout: 164 KB on 8.0, 228 KB on
/// 9.0.</param>
/// <param name="StaticSharedPerBlock">Shared memory a block gets without opting in with
/// cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES), which no launcher here does: 48 KB ("Maximum amount of shared
/// memory per thread block": 48 KB, more only by explicit opt-in).</param>
/// <param name="ReservedSharedPerBlock">Shared memory the system reserves per block: 1 KB on compute capability 8.x and
/// 9.0 (Programming Guide, "Compute Capability 8.x / 9.0", Shared Memory: "1 KB of shared memory is reserved for system
/// use"; cudaDevAttrReservedSharedMemoryPerBlock).</param>
/// <param name="SharedUnit">Shared memory is allocated in units of 128 bytes (cuda_occupancy.h
/// <c>sharedMemAllocationUnitSize</c> for sm_80/sm_90).</param>
/// <remarks>Unless noted, figures are from the CUDA C++ Programming Guide, "Technical Specifications per Compute
/// Capability" table, columns 8.0 and 9.0.</remarks>
public sealed record ArchLimits(string Arch, int RegistersPerSm, int RegistersPerBlock, int RegisterUnit,
    int MaxThreadsPerBlock, int MaxWarpsPerSm, int MaxBlocksPerSm, int SharedPerSm, int StaticSharedPerBlock,
    int ReservedSharedPerBlock, int SharedUnit)
{
    public const int WarpSize = 32;

    /// <summary>Registers are split evenly over the SM's 4 processing blocks, and a warp's registers come from one
    /// (cuda_occupancy.h <c>cudaOccSubPartitionsPerMultiprocessor</c>: 4 for sm_80 and sm_90).</summary>
    public const int SubPartitions = 4;

    public static readonly ArchLimits Sm80 = new("sm_80", 65536, 65536, 256, 1024, 64, 32, 164 * 1024, 48 * 1024,
        1024, 128);

    public static readonly ArchLimits Sm90 = new("sm_90", 65536, 65536, 256, 1024, 64, 32, 228 * 1024, 48 * 1024,
        1024, 128);

    /// <summary>The architectures the resource report covers (NVRTC 11.8 knows sm_90 at most).</summary>
    public static IReadOnlyList<ArchLimits> Reported { get; } = [Sm80, Sm90];

    public static ArchLimits For(string arch) =>
        Reported.FirstOrDefault(a => a.Arch == arch)
        ?? throw new ArgumentException($"no resource limits known for '{arch}'; known: " +
                                       string.Join(", ", Reported.Select(a => a.Arch)));

    /// <summary>
    /// Resident blocks per SM for a kernel using <paramref name="registers"/> per thread and
    /// <paramref name="sharedBytes"/> of static plus dynamic shared memory per block, launched with
    /// <paramref name="blockThreads"/> threads; 0 when such a block cannot launch at all. <paramref name="limiter"/>
    /// names what binds ("warps", "blocks", "registers", "shared memory"), or why the launch fails.
    /// </summary>
    public int BlocksPerSm(int blockThreads, int registers, int sharedBytes, out string limiter)
    {
        int warps = (blockThreads + WarpSize - 1) / WarpSize;
        int registersPerWarp = RoundUp(Math.Max(registers, 1) * WarpSize, RegisterUnit);
        if (blockThreads < 1 || blockThreads > MaxThreadsPerBlock)
        {
            limiter = $"block of {blockThreads} threads is outside 1..{MaxThreadsPerBlock}";
            return 0;
        }
        if (registersPerWarp * warps > RegistersPerBlock)
        {
            limiter = $"{registersPerWarp * warps} registers per block > {RegistersPerBlock}";
            return 0;
        }
        if (sharedBytes > StaticSharedPerBlock)
        {
            limiter = $"{sharedBytes} B shared per block > {StaticSharedPerBlock} B without opt-in";
            return 0;
        }
        int shared = RoundUp(sharedBytes + ReservedSharedPerBlock, SharedUnit);
        var limits = new (int Blocks, string Name)[]
        {
            (MaxWarpsPerSm / warps, "warps"),
            (MaxBlocksPerSm, "blocks"),
            (RegistersPerSm / SubPartitions / registersPerWarp * SubPartitions / warps, "registers"),
            (SharedPerSm / shared, "shared memory"),
        };
        var binding = limits.MinBy(l => l.Blocks);
        limiter = binding.Name;
        return binding.Blocks;
    }

    /// <summary>Resident warps over the SM's maximum, for <see cref="BlocksPerSm"/> blocks.</summary>
    public double Occupancy(int blockThreads, int registers, int sharedBytes) =>
        (double)BlocksPerSm(blockThreads, registers, sharedBytes, out _) * ((blockThreads + WarpSize - 1) / WarpSize)
        / MaxWarpsPerSm;

    private static int RoundUp(int value, int unit) => (value + unit - 1) / unit * unit;
}
