using System.Runtime.InteropServices;

namespace AdvRobust.Cuda.Interop;

// Raw declarations of the CUDA emulator's own API (src/AdvRobust.Emulator/include/emu_api.h), exported by the
// emulator's libcuda stand-in, so they bind through the "cuda" logical name. C names verbatim, no logic.

#pragma warning disable CA1707, IDE1006 // C names kept verbatim
[StructLayout(LayoutKind.Sequential)]
public struct EmuCounters
{
    public ulong kernel_launches;
    public ulong library_calls;
    public ulong htod_copies, htod_bytes;
    public ulong dtoh_copies, dtoh_bytes;
    public ulong dtod_copies, dtod_bytes;
    public ulong memsets;
    public ulong stream_syncs, context_syncs, event_syncs;
    public ulong allocations, allocated_bytes, frees;
    public ulong graph_launches;
    public ulong context_queries;
    public ulong graph_kernel_launches;
    public ulong event_records, stream_waits;
}

public static partial class Emulator
{
    private const string Lib = NativeLibraries.Cuda;

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int emu_counters_read(string? region, out EmuCounters counters);
    [LibraryImport(Lib)] public static partial void emu_counters_reset();
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial void emu_region_push(string name);
    [LibraryImport(Lib)] public static partial int emu_region_pop();
    [LibraryImport(Lib)] public static partial ulong emu_get_seed();
    [LibraryImport(Lib)] public static partial void emu_set_seed(ulong seed);
}
#pragma warning restore CA1707, IDE1006
