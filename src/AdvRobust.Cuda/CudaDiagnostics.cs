using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>One line of `advrobust doctor`: a component, whether it works, and what was found or why not.</summary>
public sealed record DiagnosticItem(string Component, bool Ok, string Detail);

/// <summary>
/// Probes the GPU stack piece by piece without ever throwing: driver, device, NVRTC, cuBLAS, cuDNN, and how each kernel
/// family would be loaded. Each missing piece says why, so a user knows what to install.
/// </summary>
public static class CudaDiagnostics
{
    private const string ProbeKernel = "extern \"C\" __global__ void doctor_probe(float* x) { x[threadIdx.x] *= 2.0f; }";

    public static IReadOnlyList<DiagnosticItem> Probe()
    {
        var items = new List<DiagnosticItem>();
        CudaDeviceInfo? device = Guard(items, "GPU", () => ProbeDriver(items));
        (int, int)? nvrtc = Guard(items, "NVRTC", () => ProbeNvrtc(items));
        Guard(items, "cuBLAS", () => { ProbeCublas(items); return 0; });
        Guard(items, "cuDNN", () => { ProbeCudnn(items); return 0; });
        items.Add(KernelLoading(device, nvrtc));
        return items;
    }

    /// <summary>A library that loads but misbehaves (an old version without a symbol, a failing call) becomes a
    /// "missing" line with its message instead of an exception.</summary>
    private static T? Guard<T>(List<DiagnosticItem> items, string component, Func<T?> probe)
    {
        try
        {
            return probe();
        }
        catch (Exception e) when (e is CudaException or NvrtcException or DllNotFoundException
                                       or EntryPointNotFoundException)
        {
            items.Add(new(component, false, e.Message));
            return default;
        }
    }

    private static CudaDeviceInfo? ProbeDriver(List<DiagnosticItem> items)
    {
        var (file, error) = NativeLibraries.Probe(NativeLibraries.Cuda);
        if (file is null)
        {
            items.Add(new("CUDA driver", false, error!));
            items.Add(new("GPU", false, "no driver, so no device"));
            return null;
        }
        try
        {
            CudaException.Check(CudaDriver.cuInit(0));
            int v = CudaContext.DriverVersion();
            string emulator = NativeLibraries.EmulatorSelected
                ? "CUDA EMULATOR in use (ADVROBUST_CUDA=emulator; kernels run on the CPU, checked, slowly): "
                : "";
            items.Add(new("CUDA driver", true, $"{emulator}{file}, CUDA {v / 1000}.{v % 1000 / 10}"));
            CudaException.Check(CudaDriver.cuDeviceGetCount(out int count));
            if (count == 0)
            {
                items.Add(new("GPU", false, "the driver sees no device"));
                return null;
            }
            var info = CudaDeviceInfo.Query(0);
            items.Add(new("GPU", true,
                $"{info.Name}, compute capability {info.Major}.{info.Minor} ({info.Arch}), {info.Multiprocessors} SMs, " +
                $"{info.TotalMemoryBytes / (1L << 20)} MiB{(count > 1 ? $" (device 0 of {count})" : "")}"));
            return info;
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            items.Add(new("GPU", false, e.Message));
            return null;
        }
    }

    private static (int, int)? ProbeNvrtc(List<DiagnosticItem> items)
    {
        var (file, error) = NativeLibraries.Probe(NativeLibraries.Nvrtc);
        if (file is null)
        {
            items.Add(new("NVRTC", false, error!));
            return null;
        }
        var v = KernelCache.NvrtcVersion();
        var archs = KernelCache.SupportedArchs();
        // A real compile, not just a version query: a tiny kernel for each reported architecture this NVRTC knows.
        var targets = ArchLimits.Reported.Select(a => a.Arch).Where(archs.Contains).ToList();
        foreach (var arch in targets) KernelCache.CompileSource(ProbeKernel, "doctor_probe.cu", arch);
        string compiles = targets.Count > 0
            ? $"compiles for {string.Join(" and ", targets)} (checked now, no GPU needed)"
            : $"cannot compile for {string.Join(" or ", ArchLimits.Reported.Select(a => a.Arch))}";
        items.Add(new("NVRTC", true, $"{file}, version {v.Major}.{v.Minor}, " +
                                     $"architectures {archs.FirstOrDefault()}..{archs.LastOrDefault()}; {compiles}"));
        return v;
    }

    private static void ProbeCublas(List<DiagnosticItem> items)
    {
        var (file, error) = NativeLibraries.Probe(NativeLibraries.Cublas);
        if (file is null)
        {
            items.Add(new("cuBLAS", false, error!));
            return;
        }
        Cublas.cublasGetProperty(libraryPropertyType.MAJOR_VERSION, out int major);
        Cublas.cublasGetProperty(libraryPropertyType.MINOR_VERSION, out int minor);
        Cublas.cublasGetProperty(libraryPropertyType.PATCH_LEVEL, out int patch);
        items.Add(new("cuBLAS", true, $"{file}, version {major}.{minor}.{patch}"));
    }

    private static void ProbeCudnn(List<DiagnosticItem> items)
    {
        var (file, error) = NativeLibraries.Probe(NativeLibraries.Cudnn);
        if (file is null)
        {
            items.Add(new("cuDNN", false, error!));
            return;
        }
        ulong v = Cudnn.cudnnGetVersion();
        items.Add(new("cuDNN", true, $"{file}, version {v / 10000}.{v % 10000 / 100}.{v % 100}"));
    }

    private static DiagnosticItem KernelLoading(CudaDeviceInfo? device, (int, int)? nvrtc)
    {
        var families = KernelSources.Families;
        int fatbins = families.Count(f => File.Exists(KernelCache.FatbinPath(f)));
        if (fatbins == families.Count)
            return new("Kernels", true, $"fatbin for all {families.Count} families in {KernelCache.FatbinDirectory}");
        if (device is null)
            return new("Kernels", false, $"no GPU to run them on ({families.Count} families embedded: " +
                                          $"{string.Join(", ", families)})" + (nvrtc is null ? "" :
                                              "; NVRTC can still compile them: `advrobust kernels` reports their resources"));
        if (nvrtc is null)
            return new("Kernels", false, $"{fatbins} of {families.Count} families have a fatbin and NVRTC is missing: " +
                                          "run `./build.ps1 kernels` where nvcc exists, or install NVRTC");
        int cached = families.Count(f => File.Exists(KernelCache.CubinPath(f, device.Arch, nvrtc.Value)));
        return new("Kernels", true, $"{fatbins} fatbin, {cached} cached cubins, the rest compiled by NVRTC for " +
                                    $"{device.Arch} on first use (cache {KernelCache.CacheDirectory})");
    }
}
