using System.Runtime.InteropServices;
using System.Text;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// Loads each kernel family once per context, the first way that works:
/// 1. a fatbin built by nvcc (`build.ps1 kernels`): <c>{dir}/{family}.{hash}.fatbin</c> in ADVROBUST_FATBIN_DIR or the
///    <c>kernels/</c> folder beside the assembly — the hash in the name makes a stale fatbin invisible;
/// 2. a cubin that NVRTC compiled earlier for this architecture, from the on-disk cache
///    (ADVROBUST_KERNEL_CACHE, else $XDG_CACHE_HOME/advrobust/kernels, else ~/.cache/advrobust/kernels),
///    keyed by (source hash, sm_XY, NVRTC version, options);
/// 3. NVRTC compiling the embedded source now for the detected sm_XY, then writing the cubin to the cache atomically.
/// </summary>
public sealed class KernelCache : IDisposable
{
    /// <summary>Compiler options; part of the cache key. No fast-math: the CPU twins must agree closely.</summary>
    public static readonly string[] NvrtcOptions = ["-std=c++17", "-lineinfo", "--fmad=true"];

    private readonly CudaContext _context;
    private readonly Dictionary<string, CudaModuleHandle> _modules = new();
    private readonly Dictionary<(string Family, string Name), nint> _functions = new();
    private readonly Dictionary<string, string> _loadedFrom = new();
    private readonly Lock _gate = new();

    public KernelCache(CudaContext context) => _context = context;

    /// <summary>For each loaded family, how it was loaded ("fatbin PATH", "NVRTC cache PATH", "NVRTC compiled").</summary>
    public IReadOnlyDictionary<string, string> LoadedFrom
    {
        get { lock (_gate) return new Dictionary<string, string>(_loadedFrom); }
    }

    public static string FatbinDirectory =>
        Environment.GetEnvironmentVariable("ADVROBUST_FATBIN_DIR") is { Length: > 0 } d
            ? d
            : Path.Combine(AppContext.BaseDirectory, "kernels");

    public static string CacheDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("ADVROBUST_KERNEL_CACHE") is { Length: > 0 } d) return d;
            string root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x
                ? x
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "advrobust", "kernels");
        }
    }

    public static string FatbinPath(string family) =>
        Path.Combine(FatbinDirectory, $"{family}.{KernelSources.Hash(family)}.fatbin");

    public static string CubinPath(string family, string arch, (int Major, int Minor) nvrtc)
    {
        string options = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            Encoding.UTF8.GetBytes(string.Join(' ', NvrtcOptions))))[..8];
        return Path.Combine(CacheDirectory,
            $"{family}-{KernelSources.Hash(family)}-{arch}-nvrtc{nvrtc.Major}.{nvrtc.Minor}-{options}.cubin");
    }

    /// <summary>The kernel <paramref name="name"/> of a family, loading the family on first use.</summary>
    public nint Function(string family, string name)
    {
        lock (_gate)
        {
            if (_functions.TryGetValue((family, name), out var fn)) return fn;
            if (!_modules.TryGetValue(family, out var module))
            {
                module = Load(family);
                _modules[family] = module;
            }
            fn = module.GetFunction(name);
            _functions[(family, name)] = fn;
            return fn;
        }
    }

    public void Dispose()
    {
        foreach (var m in _modules.Values) m.Dispose();
        _modules.Clear();
        _functions.Clear();
    }

    private CudaModuleHandle Load(string family)
    {
        string fatbin = FatbinPath(family);
        if (File.Exists(fatbin))
        {
            _loadedFrom[family] = "fatbin " + fatbin;
            return CudaModuleHandle.Load(_context.Handle, File.ReadAllBytes(fatbin), fatbin);
        }
        var version = NvrtcVersion();
        string cubinPath = CubinPath(family, _context.Device.Arch, version);
        if (File.Exists(cubinPath))
        {
            _loadedFrom[family] = "NVRTC cache " + cubinPath;
            return CudaModuleHandle.Load(_context.Handle, File.ReadAllBytes(cubinPath), cubinPath);
        }
        byte[] cubin = Compile(family, _context.Device.Arch);
        TryWriteAtomically(cubinPath, cubin);
        _loadedFrom[family] = "NVRTC compiled (cached at " + cubinPath + ")";
        return CudaModuleHandle.Load(_context.Handle, cubin, $"NVRTC {family}");
    }

    public static (int Major, int Minor) NvrtcVersion()
    {
        NativeLibraries.Load(NativeLibraries.Nvrtc);
        NvrtcException.Check(Nvrtc.nvrtcVersion(out int major, out int minor));
        return (major, minor);
    }

    /// <summary>Compiles one family with NVRTC to a cubin for <paramref name="arch"/> (e.g. "sm_90").</summary>
    public static byte[] Compile(string family, string arch) =>
        CompileSource(KernelSources.Source(family), family + ".cu", arch);

    /// <summary>Compiles CUDA source (which may include the embedded headers) to a cubin; errors carry NVRTC's log.</summary>
    public static unsafe byte[] CompileSource(string source, string fileName, string arch)
    {
        NativeLibraries.Load(NativeLibraries.Nvrtc);
        var headers = KernelSources.Headers.ToList();
        var pinned = new List<GCHandle>();
        byte* Utf8(string s)
        {
            var h = GCHandle.Alloc(Encoding.UTF8.GetBytes(s + "\0"), GCHandleType.Pinned);
            pinned.Add(h);
            return (byte*)h.AddrOfPinnedObject();
        }
        try
        {
            byte** headerTexts = stackalloc byte*[Math.Max(headers.Count, 1)];
            byte** headerNames = stackalloc byte*[Math.Max(headers.Count, 1)];
            for (int i = 0; i < headers.Count; i++)
            {
                headerTexts[i] = Utf8(headers[i].Value);
                headerNames[i] = Utf8(headers[i].Key);
            }
            NvrtcException.Check(Nvrtc.nvrtcCreateProgram(out nint raw, Utf8(source), Utf8(fileName), headers.Count,
                headerTexts, headerNames));
            using var program = NvrtcProgramHandle.FromRaw(raw);
            // -arch (not --gpu-arch, which NVRTC 11.8 rejects) is understood by every NVRTC from 11 to 13.
            string[] options = [$"-arch={arch}", .. NvrtcOptions];
            byte** opts = stackalloc byte*[options.Length];
            for (int i = 0; i < options.Length; i++) opts[i] = Utf8(options[i]);
            var result = Nvrtc.nvrtcCompileProgram(raw, options.Length, opts);
            if (result != nvrtcResult.NVRTC_SUCCESS)
                throw new NvrtcException(result, $"nvrtcCompileProgram({fileName}, {string.Join(' ', options)})", Log(raw));
            NvrtcException.Check(Nvrtc.nvrtcGetCUBINSize(raw, out nuint size));
            var cubin = new byte[(int)size];
            fixed (byte* p = cubin) NvrtcException.Check(Nvrtc.nvrtcGetCUBIN(raw, p));
            return cubin;
        }
        finally
        {
            foreach (var h in pinned) h.Free();
        }
    }

    private static unsafe string Log(nint program)
    {
        if (Nvrtc.nvrtcGetProgramLogSize(program, out nuint size) != nvrtcResult.NVRTC_SUCCESS || size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log) Nvrtc.nvrtcGetProgramLog(program, p);
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    /// <summary>Temp file then rename, so a crash never leaves a half-written cubin; a read-only cache is not fatal.</summary>
    private static void TryWriteAtomically(string path, byte[] bytes)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string tmp = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, path, overwrite: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
