using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Tests.Kernels;

/// <summary>
/// NVIDIA's own compiler without a GPU: NVRTC (11.8 from Debian non-free in CI, 12 or 13 on the GPU machine) compiles
/// every family through the engine's bindings and kernel cache, <see cref="KernelCache.CubinFor"/>, the call the GPU
/// path makes, and ptxas's resource report must show no spill and no launch that could not start. Not in category Gpu:
/// no device is needed. Without NVRTC these are ignored, or fail where CI=true (.ci/run installs it).
/// </summary>
public sealed partial class NvrtcKernelTests
{
    private static readonly string KernelDir = Path.Combine(AppContext.BaseDirectory, "kernels");

    /// <summary>One cache folder for the whole fixture, so each (family, arch) is compiled once per run.</summary>
    private static readonly Lazy<string> Cache = new(() =>
        Directory.CreateTempSubdirectory("advrobust-nvrtc-test-").FullName);

    private static readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<KernelResource>>> Measured = new();

    [OneTimeTearDown]
    public void RemoveCache()
    {
        if (Cache.IsValueCreated && Directory.Exists(Cache.Value)) Directory.Delete(Cache.Value, recursive: true);
    }

    [Test]
    public void Resolver_FindsNvrtc_ThatKnowsSm80AndSm90()
    {
        RequireNvrtc();
        var (file, _) = NativeLibraries.Probe(NativeLibraries.Nvrtc);
        Assert.That(NativeLibraries.CandidatesFor(NativeLibraries.Nvrtc), Does.Contain(file));
        var (major, minor) = KernelCache.NvrtcVersion();
        Assert.That(major * 10 + minor, Is.GreaterThanOrEqualTo(118), $"NVRTC {major}.{minor} from {file}");
        Assert.That(KernelCache.SupportedArchs(), Is.SupersetOf(new[] { "sm_80", "sm_90" }));
    }

    [Test]
    public void CubinFor_EveryFamily_CompilesEveryKernelThenLoadsFromTheCache()
    {
        RequireNvrtc();
        var version = KernelCache.NvrtcVersion();
        foreach (var family in KernelSources.Families)
        {
            var (first, from) = KernelCache.CubinFor(family, "sm_90", Cache.Value);
            string path = KernelCache.CubinPath(family, "sm_90", version, Cache.Value);
            Assert.That(from, Does.Contain(path), $"{family}: {from}");
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(first.Cubin), $"{family}: the cached cubin");
            var kernels = CubinElf.Functions(first.Cubin, family).Keys.Order(StringComparer.Ordinal);
            var declared = GlobalDecl().Matches(File.ReadAllText(Path.Combine(KernelDir, family + ".cu")))
                .Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal);
            Assert.That(kernels, Is.EqualTo(declared), $"{family}: the cubin's kernels");
            Assert.That(first.Log, Does.Not.Contain('\0'), $"{family}: NVRTC's log, cut at its NUL");
            var warnings = first.Log.Split('\n').Where(l => l.Contains("warning", StringComparison.OrdinalIgnoreCase));
            Assert.That(warnings, Is.Empty, $"{family}: NVRTC warns (clang's gate runs with -Werror; so does this)");

            var (again, fromAgain) = KernelCache.CubinFor(family, "sm_90", Cache.Value);
            Assert.That(fromAgain, Is.EqualTo("NVRTC cache " + path));
            Assert.That(again.Cubin, Is.EqualTo(first.Cubin));
            Assert.That(again.Log, Is.EqualTo(first.Log), $"{family}: the log cached beside the cubin");
        }
    }

    [TestCase("sm_80")]
    [TestCase("sm_90")]
    public void Resources_EveryKernel_NoSpillAndItsLauncherFits(string arch)
    {
        RequireNvrtc();
        var rows = KernelResourceReport.Build(Measure(arch), AdvRobust.Cuda.Kernels.Launches, ArchLimits.For(arch));
        var problems = KernelResourceReport.Problems(rows);
        Assert.That(problems, Is.Empty, string.Join("\n", problems) + "\n" + KernelResourceReport.Table(rows));
        Assert.That(rows.Select(r => (r.Resource.Family, r.Resource.Name)),
            Is.EquivalentTo(AdvRobust.Cuda.Kernels.Launches.Select(l => (l.Family, l.Name))));
        Assert.That(rows.Where(r => r.BlocksPerSm < 1).Select(r => r.Resource.Name), Is.Empty);
    }

    [Test]
    public void Resources_TripletMine_ReportsItsTilesAndLaunchBounds()
    {
        RequireNvrtc();
        // triplet_mine_f32 declares two [16][65] float tiles = 8320 B and __launch_bounds__(TRIPLET_THREADS = 256).
        var mine = Measure("sm_90").Single(r => r.Name == "triplet_mine_f32");
        Assert.That(mine.StaticSharedBytes, Is.EqualTo(2 * 16 * 65 * sizeof(float)));
        Assert.That(mine.MaxThreadsPerBlock, Is.EqualTo(256));
        Assert.That(mine.Registers, Is.EqualTo(mine.CubinRegisters).And.InRange(1, 255));
        var sum = Measure("sm_90").Single(r => r.Name == "channel_sum_f32");
        Assert.That(sum.StaticSharedBytes, Is.EqualTo(256 * sizeof(double)), "__shared__ double partial[256]");
    }

    [Test]
    public void CompileSource_BrokenSource_ThrowsWithTheProgramLog()
    {
        RequireNvrtc();
        var e = Assert.Throws<NvrtcException>(() => KernelCache.CompileSource(
            "extern \"C\" __global__ void k(float* x) { x[0] = undefined_symbol_xyz; }", "broken.cu", "sm_90"));
        Assert.That(e!.Log, Does.Contain("undefined_symbol_xyz"));
        Assert.That(e.Message, Does.Contain("broken.cu").And.Contain("NVRTC_ERROR_COMPILATION"));
    }

    [Test]
    public void CompileSource_UnknownArch_NamesIt()
    {
        RequireNvrtc();
        var e = Assert.Throws<NvrtcException>(() => KernelCache.CompileSource(
            "extern \"C\" __global__ void k(float* x) { x[0] = 1.0f; }", "k.cu", "sm_1"));
        Assert.That(e!.Message, Does.Contain("sm_1"));
    }

    [Test]
    public void Doctor_WithNvrtcButNoGpu_SaysItCompilesForSm80AndSm90()
    {
        RequireNvrtc();
        var nvrtc = CudaDiagnostics.Probe().Single(i => i.Component == "NVRTC");
        Assert.That(nvrtc.Ok, Is.True, nvrtc.Detail);
        Assert.That(nvrtc.Detail, Does.Contain("compiles for sm_80 and sm_90"));
    }

    private static IReadOnlyList<KernelResource> Measure(string arch) =>
        Measured.GetOrAdd(arch, a => new Lazy<IReadOnlyList<KernelResource>>(
            () => KernelResources.Measure(a, Cache.Value))).Value;

    private static void RequireNvrtc()
    {
        if (NativeLibraries.Probe(NativeLibraries.Nvrtc).File is not null) return;
        string reason = "NVRTC is not installed (Debian non-free: apt-get install libnvrtc11.2 libnvrtc-builtins11.8)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(reason + "; CI=true requires it");
        Assert.Ignore(reason);
    }

    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\(")]
    private static partial Regex GlobalDecl();
}
