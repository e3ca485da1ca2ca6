using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>What a profiler would count, as the CUDA emulator saw it: kernel launches, library calls, copies and bytes
/// by direction, memsets, synchronizations, allocations, graph launches (the kernels, copies and library work a graph
/// replays count in the other fields as they run; GraphKernelLaunches is the replayed share of KernelLaunches) and
/// context queries (cuCtxGetCurrent/cuCtxSetCurrent calls), event records and stream waits (cuStreamWaitEvent: one
/// stream ordered after another's event).</summary>
public readonly record struct EmulatorCount(
    long KernelLaunches, long LibraryCalls,
    long HostToDeviceCopies, long HostToDeviceBytes,
    long DeviceToHostCopies, long DeviceToHostBytes,
    long DeviceToDeviceCopies, long DeviceToDeviceBytes,
    long Memsets, long StreamSyncs, long ContextSyncs, long EventSyncs,
    long Allocations, long AllocatedBytes, long Frees, long GraphLaunches, long ContextQueries,
    long GraphKernelLaunches, long EventRecords = 0, long StreamWaits = 0)
{
    /// <summary>Every synchronization the host waited on: stream, context and event.</summary>
    public long Syncs => StreamSyncs + ContextSyncs + EventSyncs;

    /// <summary>Kernel launches the host issued itself, not replayed from a graph.</summary>
    public long HostKernelLaunches => KernelLaunches - GraphKernelLaunches;

    internal static EmulatorCount From(in EmuCounters c) => new(
        (long)c.kernel_launches, (long)c.library_calls, (long)c.htod_copies, (long)c.htod_bytes, (long)c.dtoh_copies,
        (long)c.dtoh_bytes, (long)c.dtod_copies, (long)c.dtod_bytes, (long)c.memsets, (long)c.stream_syncs,
        (long)c.context_syncs, (long)c.event_syncs, (long)c.allocations, (long)c.allocated_bytes, (long)c.frees,
        (long)c.graph_launches, (long)c.context_queries, (long)c.graph_kernel_launches, (long)c.event_records,
        (long)c.stream_waits);
}

/// <summary>
/// Reads the CUDA emulator's counters (ADVROBUST_CUDA=emulator), in total or per named region, so a test can assert
/// e.g. "one attack step: 0 syncs, 0 copies". Regions nest; an event counts in every region open when it happens, and a
/// region's counts add up over every time it was open. Everything throws <see cref="InvalidOperationException"/> when
/// the emulator is not the selected driver.
/// </summary>
public static class EmulatorCounters
{
    public static EmulatorCount Total => Read(null);

    /// <summary>The counts inside every <see cref="Region"/> of this name so far.</summary>
    public static EmulatorCount Read(string? region)
    {
        Require();
        if (Emulator.emu_counters_read(region, out var c) != 0)
            throw new ArgumentException($"no emulator counter region named '{region}' has been opened", nameof(region));
        return EmulatorCount.From(c);
    }

    /// <summary>Zeroes the totals and forgets every region.</summary>
    public static void Reset()
    {
        Require();
        Emulator.emu_counters_reset();
    }

    /// <summary>Opens a named region until the returned scope is disposed.</summary>
    public static IDisposable Region(string name)
    {
        Require();
        Emulator.emu_region_push(name);
        return new Scope();
    }

    /// <summary>The seed of the emulator's randomized block schedules (ADVROBUST_EMULATOR_SEED, default 1).</summary>
    public static ulong Seed
    {
        get
        {
            Require();
            return Emulator.emu_get_seed();
        }
        set
        {
            Require();
            Emulator.emu_set_seed(value);
        }
    }

    private static void Require()
    {
        if (!NativeLibraries.EmulatorSelected)
            throw new InvalidOperationException("the CUDA emulator is not selected: set ADVROBUST_CUDA=emulator");
        NativeLibraries.Load(NativeLibraries.Cuda);
    }

    private sealed class Scope : IDisposable
    {
        private bool _closed;

        public void Dispose()
        {
            if (_closed) return;
            _closed = true;
            if (Emulator.emu_region_pop() != 0) throw new InvalidOperationException("emulator region closed twice");
        }
    }
}
