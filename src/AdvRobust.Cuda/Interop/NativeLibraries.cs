using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AdvRobust.Cuda.Interop;

/// <summary>
/// The one place that knows NVIDIA's library file names. Interop declarations use the logical names below; a single
/// DllImport resolver maps them per OS and major version, trying the newest first. A library that cannot be found
/// gives one clear message naming it and how to get it, and the CPU backend stays usable.
/// </summary>
public static class NativeLibraries
{
    public const string Cuda = "cuda";
    public const string Nvrtc = "nvrtc";
    public const string Cublas = "cublas";
    public const string Cudnn = "cudnn";
    public const string Nccl = "nccl";

    private static readonly Dictionary<string, string[]> LinuxNames = new()
    {
        [Cuda] = ["libcuda.so.1", "libcuda.so"],
        [Nvrtc] = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"],
        [Cublas] = ["libcublas.so.13", "libcublas.so.12"],
        [Cudnn] = ["libcudnn.so.9"],
        [Nccl] = ["libnccl.so.2"],
    };

    private static readonly Dictionary<string, string[]> WindowsNames = new()
    {
        [Cuda] = ["nvcuda.dll"],
        [Nvrtc] = ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"],
        [Cublas] = ["cublas64_13.dll", "cublas64_12.dll"],
        [Cudnn] = ["cudnn64_9.dll"],
        [Nccl] = [], // NCCL is built for Linux only
    };

    private static readonly Dictionary<string, string> HowToGet = new()
    {
        [Cuda] = "install the NVIDIA driver (it ships libcuda)",
        [Nvrtc] = "install the CUDA toolkit 12 or 13 runtime compiler (package cuda-nvrtc-13-0; Debian non-free: " +
            "libnvrtc11.2 and libnvrtc-builtins11.8, NVRTC 11.8, which compiles up to sm_90), or build kernels with nvcc",
        [Cublas] = "install cuBLAS 12 or 13 (package libcublas-13-0)",
        [Cudnn] = "install cuDNN 9 (package libcudnn9-cuda-13)",
        [Nccl] = "install NCCL 2 (package libnccl2; Linux only); multi-rank GPU runs all-reduce over MPI through the host without it",
    };

    // ADVROBUST_CUDA=emulator: the CUDA emulator's stand-ins (src/AdvRobust.Emulator) replace the driver, cuBLAS, cuDNN
    // and NCCL (ranks meet in shared memory); NVRTC stays NVIDIA's, so kernels are still compiled by the real compiler.
    private static readonly Dictionary<string, string> EmulatorFiles = new()
    {
        [Cuda] = "libadvrobust-emu-cuda.so",
        [Cublas] = "libadvrobust-emu-cublas.so",
        [Cudnn] = "libadvrobust-emu-cudnn.so",
        [Nccl] = "libadvrobust-emu-nccl.so",
    };

    /// <summary>True when ADVROBUST_CUDA=emulator selects the CUDA emulator for the driver, cuBLAS, cuDNN and NCCL.</summary>
    public static bool EmulatorSelected =>
        string.Equals(Environment.GetEnvironmentVariable("ADVROBUST_CUDA"), "emulator", StringComparison.OrdinalIgnoreCase);

    /// <summary>Where the emulator's libraries are: ADVROBUST_EMULATOR_DIR, else the first
    /// src/AdvRobust.Emulator/build found walking up from the application's folder (a source checkout), else null.</summary>
    public static string? EmulatorDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("ADVROBUST_EMULATOR_DIR") is { Length: > 0 } d) return d;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "src", "AdvRobust.Emulator", "build");
                if (Directory.Exists(candidate)) return candidate;
            }
            return null;
        }
    }

    private static readonly Dictionary<string, (nint Handle, string? Error, string? File)> Loaded = new();
    private static readonly Lock Gate = new();

    // The resolver must be in place before this assembly's first P/Invoke, whoever makes it.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);

    /// <summary>The candidate file names for a logical library on this OS, newest first.</summary>
    public static IReadOnlyList<string> CandidatesFor(string logicalName) => CandidatesFor(logicalName, EmulatorSelected);

    /// <summary>The candidates with or without the emulator selected (tests check both, whatever the environment).</summary>
    internal static IReadOnlyList<string> CandidatesFor(string logicalName, bool emulator)
    {
        if (emulator && EmulatorFiles.TryGetValue(logicalName, out var file))
            return [Path.Combine(EmulatorDirectory ?? "src/AdvRobust.Emulator/build", file)];
        return (OperatingSystem.IsWindows() ? WindowsNames : LinuxNames).TryGetValue(logicalName, out var names)
            ? names
            : throw new ArgumentException($"unknown native library '{logicalName}'");
    }

    /// <summary>Loads a library (once) and returns its handle, or throws <see cref="DllNotFoundException"/>
    /// with a message that names every file tried and how to get the library.</summary>
    public static nint Load(string logicalName)
    {
        var (handle, error, _) = TryLoad(logicalName);
        return handle != 0 ? handle : throw new DllNotFoundException(error);
    }

    /// <summary>The file a library was loaded from, or null with the reason it was not.</summary>
    public static (string? File, string? Error) Probe(string logicalName)
    {
        var (_, error, file) = TryLoad(logicalName);
        return (file, error);
    }

    /// <summary>The message for a library that could not be loaded; public so tests can check its wording.</summary>
    public static string MissingMessage(string logicalName, IEnumerable<string> tried) =>
        MissingMessage(logicalName, tried, EmulatorSelected);

    internal static string MissingMessage(string logicalName, IEnumerable<string> tried, bool emulator) =>
        emulator && EmulatorFiles.ContainsKey(logicalName)
            ? $"CUDA emulator library '{logicalName}' not found (tried {string.Join(", ", tried)}; ADVROBUST_CUDA=emulator): " +
              "build it with `src/AdvRobust.Emulator/build.sh` (or `./build.ps1 emulator`), or set ADVROBUST_EMULATOR_DIR " +
              "to its folder. The CPU backend (--device cpu) works without it."
            : $"NVIDIA library '{logicalName}' not found (tried {string.Join(", ", tried)}): {HowToGet[logicalName]}. " +
        "Set LD_LIBRARY_PATH (or PATH on Windows) to its folder if it is installed elsewhere. " +
        "The CPU backend (--device cpu) works without it.";

    private static (nint, string?, string?) TryLoad(string logicalName)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(logicalName, out var known)) return known;
            var names = CandidatesFor(logicalName);
            (nint, string?, string?) result = (0, MissingMessage(logicalName, names), null);
            foreach (var name in names)
            {
                if (NativeLibrary.TryLoad(name, out var handle))
                {
                    result = (handle, null, name);
                    break;
                }
            }
            Loaded[logicalName] = result;
            return result;
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        (OperatingSystem.IsWindows() ? WindowsNames : LinuxNames).ContainsKey(libraryName) ? Load(libraryName) : 0;
}
