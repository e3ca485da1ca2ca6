using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AdvRobust.Distributed.Interop;

/// <summary>
/// Loads Open MPI's libmpi (once, on the first MPI call; a single process never gets here) and reads the predefined
/// handles. libmpi is opened with RTLD_GLOBAL, as a C program linked against it would have it: Open MPI's own plugins
/// (mca_*.so, loaded by MPI_Init) resolve symbols of libmpi and libopen-pal through the global namespace. A missing
/// library gives one <see cref="MpiException"/> naming the files tried and the packages to install.
/// </summary>
public static unsafe partial class MpiLibrary
{
    public const string Name = "mpi";

    /// <summary>Open MPI 4.x and 5.x (same ABI major); MPICH's libmpi.so.12 has other handles and is not supported.</summary>
    public static readonly string[] Candidates = ["libmpi.so.40", "libmpi.so"];

    public const string HowToGet = "install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi3; on a " +
        "cluster: module load openmpi) or set LD_LIBRARY_PATH to the folder holding libmpi.so.40";

    private static nint _handle;
    private static string? _error;
    private static readonly Lock Gate = new();

#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => NativeLibrary.SetDllImportResolver(typeof(MpiLibrary).Assembly,
        (name, _, _) => name == Name ? Load() : 0);

    /// <summary>The library's handle; throws <see cref="MpiException"/> when it cannot be loaded.</summary>
    public static nint Load()
    {
        lock (Gate)
        {
            if (_handle != 0) return _handle;
            if (_error is not null) throw new MpiException(_error);
            var failures = new List<string>();
            foreach (string file in Candidates)
            {
                nint h = OperatingSystem.IsLinux() ? dlopen(file, RTLD_NOW | RTLD_GLOBAL) : 0;
                if (h != 0) return _handle = h;
                failures.Add(OperatingSystem.IsLinux() ? $"{file}: {Marshal.PtrToStringUTF8(dlerror())}" : file);
            }
            _error = $"Open MPI not found (tried {string.Join("; ", failures)}): {HowToGet}. A single process " +
                     "(no mpirun) runs without it.";
            throw new MpiException(_error);
        }
    }

    /// <summary>The address of one of Open MPI's predefined objects, i.e. the handle value of MPI_COMM_WORLD etc.</summary>
    public static nint Handle(string symbol) => NativeLibrary.TryGetExport(Load(), symbol, out nint address)
        ? address
        : throw new MpiException($"{Candidates[0]} has no symbol '{symbol}': is it Open MPI (not MPICH)?");

    private const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

    [LibraryImport("libc.so.6", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint dlopen(string file, int mode);

    [LibraryImport("libc.so.6")]
    private static partial nint dlerror();
}

/// <summary>The MPI handles the engine uses, read once from libmpi's exports.</summary>
public static class MpiHandles
{
    public static readonly nint CommWorld = MpiLibrary.Handle("ompi_mpi_comm_world");
    public static readonly nint Byte = MpiLibrary.Handle("ompi_mpi_byte");
    public static readonly nint Int = MpiLibrary.Handle("ompi_mpi_int");
    public static readonly nint LongLong = MpiLibrary.Handle("ompi_mpi_long_long_int");
    public static readonly nint Float = MpiLibrary.Handle("ompi_mpi_float");
    public static readonly nint Double = MpiLibrary.Handle("ompi_mpi_double");
    public static readonly nint Sum = MpiLibrary.Handle("ompi_mpi_op_sum");
    public static readonly nint Max = MpiLibrary.Handle("ompi_mpi_op_max");

    /// <summary>The MPI datatype of a .NET element type.</summary>
    public static nint Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? Float
        : typeof(T) == typeof(double) ? Double
        : typeof(T) == typeof(int) ? Int
        : typeof(T) == typeof(long) ? LongLong
        : typeof(T) == typeof(byte) ? Byte
        : throw new NotSupportedException($"no MPI datatype for {typeof(T).Name}");
}

/// <summary>Open MPI is missing or an MPI call failed.</summary>
public sealed class MpiException(string message) : Exception(message);
