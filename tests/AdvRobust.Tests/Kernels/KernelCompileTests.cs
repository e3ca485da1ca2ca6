using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace AdvRobust.Tests.Kernels;

/// <summary>
/// The kernel compile gate for machines without nvcc or a GPU (STYLE.md §15): clang-14 compiles every
/// <c>kernels/*.cu</c> to PTX for sm_70 with no CUDA toolkit (<c>-nocudainc -nocudalib -include compat.h</c>), and the
/// PTX must declare every entry point with the parameter types the C# launchers are written against. The sources
/// are copied to <c>&lt;output&gt;/kernels/</c> by the test project. Without clang-14 the compiling tests are ignored,
/// or fail where CI=true. The source-rule tests need no compiler.
/// </summary>
public sealed partial class KernelCompileTests
{
    private const string Clang = "clang-14";

    private static readonly string KernelDir = Path.Combine(AppContext.BaseDirectory, "kernels");

    /// <summary>
    /// Every entry point and its C parameter list: the ABI shared with src/AdvRobust.Cuda/Kernels.cs. A kernel added
    /// to a .cu file must be listed here, and a listed one must exist.
    /// </summary>
    private static readonly (string File, string Name, string Params)[] Expected =
    [
        ("elementwise.cu", "fill_f32", "float* y, float v, long long n"),
        ("elementwise.cu", "unary_forward_f32", "const float* x, float* y, long long n, int op"),
        ("elementwise.cu", "unary_backward_f32", "const float* x, const float* dy, float* dx, long long n, int op"),
        ("elementwise.cu", "binary_forward_f32", "const float* a, const float* b, float* y, long long n, int op"),
        ("elementwise.cu", "axpby_f32", "const float* x, float* y, float alpha, float beta, long long n"),
        ("elementwise.cu", "clamp_f32", "const float* x, float* y, float lo, float hi, long long n"),
        ("elementwise.cu", "gather_rows_f32", "const float* src, const int* index, float* dst, int rows, int d"),
        ("gather.cu", "scatter_add_rows_f32", "const float* src, const int* index, float* dst, int n, int d"),
        ("reduce.cu", "reduce_rows_f32", "const float* x, float* y, long long rows, int cols, int op"),
        ("pgd.cu", "pgd_linf_step_f32",
            "float* x, const float* x0, const float* g, float alpha, float eps, float lo, float hi, long long n"),
        ("pgd.cu", "pgd_l2_step_f32",
            "float* x, const float* x0, const float* g, float alpha, float eps, float lo, float hi, int per_sample"),
        ("pgd.cu", "pgd_linf_random_start_f32",
            "float* x, const float* x0, float eps, float lo, float hi, long long n, int per_sample, "
            + "unsigned long long seed, unsigned int stream, unsigned int first_sample, const unsigned int* key, "
            + "const int* ids"),
        ("pgd.cu", "pgd_l2_random_start_f32",
            "float* x, const float* x0, float eps, float lo, float hi, int per_sample, "
            + "unsigned long long seed, unsigned int stream, unsigned int first_sample, const unsigned int* key, "
            + "const int* ids"),
        ("attack.cu", "attack_track_f32",
            "const float* logits, int k, const float* loss, int m, const int* labels, const int* targets, "
            + "const float* x, int d, float* best_loss, int* best_success, int* best_set, float* current, "
            + "float* best_x, int* pending, int keep_highest"),
        ("attack.cu", "apgd_step_f32",
            "float* x, float* x_old, const float* x0, const float* g, const float* step, float* z, float eps, "
            + "float a, int d, int l2"),
        ("attack.cu", "apgd_schedule_f32",
            "const float* loss, float* x, float* g, float* x_best, float* g_best, float* step, float* loss_best, "
            + "float* best_at_check, float* loss_prev, int* increases, float* halved_last, int d, int checkpoint, "
            + "int window, float rho"),
        ("distance.cu", "distance_epilogue_f32",
            "const float* dot, const float* na2, const float* nb2, float* out, int n, int m, int kind"),
        ("distance.cu", "distance_backward_weights_f32",
            "const float* grad, float* w, float* p, const float* na2, const float* nb2, int n, int m, int kind"),
        ("distance.cu", "distance_backward_finish_f32",
            "float* grad_x, const float* x, const float* sum_p, const float* nx2, int rows, int d, int kind"),
        ("triplet.cu", "triplet_mine_f32",
            "const float* a, const int* ya, const float* p, const int* yp, const float* na2, const float* np2, "
            + "int n, int m, int d, int kind, int mode, int exclude_self, "
            + "int* pos_idx, float* pos_dist, int* neg_idx, float* neg_dist"),
        ("triplet.cu", "triplet_loss_forward_f32",
            "const float* a, const float* p, const float* q, float* loss, int n, int d, int kind, float margin"),
        ("triplet.cu", "triplet_loss_backward_f32",
            "const float* a, const float* p, const float* q, const float* gloss, float* ga, float* gp, float* gq, "
            + "int n, int d, int kind, float margin"),
        ("pool.cu", "maxpool2d_forward_f32",
            "const float* x, float* y, int planes, int h, int w, int p, int q, int kernel, int stride, int pad"),
        ("pool.cu", "maxpool2d_backward_f32",
            "const float* x, const float* dy, float* dx, int planes, int h, int w, int p, int q, int kernel, "
            + "int stride, int pad"),
        ("pool.cu", "avgpool2d_forward_f32",
            "const float* x, float* y, int planes, int h, int w, int p, int q, int kernel, int stride, int pad"),
        ("pool.cu", "avgpool2d_backward_f32",
            "const float* dy, float* dx, int planes, int h, int w, int p, int q, int kernel, int stride, int pad"),
        ("channel.cu", "channel_affine_f32",
            "const float* x, const float* scale, const float* shift, float* y, long long n, int channels, int inner"),
        ("channel.cu", "channel_sum_f32", "const float* x, float* y, int batch, int channels, int inner"),
        ("channel.cu", "channel_fill_f32", "const float* value, float* y, long long n, int channels, int inner"),
        ("loss.cu", "softmax_cross_entropy_forward_f32",
            "const float* logits, const int* labels, float* loss, float* probs, int n, int k, float smoothing"),
        ("loss.cu", "softmax_cross_entropy_backward_f32",
            "const float* probs, const int* labels, const float* gloss, float* glogits, int n, int k, float smoothing"),
        ("loss.cu", "log_softmax_forward_f32", "const float* x, float* y, int n, int k"),
        ("loss.cu", "log_softmax_backward_f32", "const float* y, const float* dy, float* dx, int n, int k"),
        ("loss.cu", "margin_loss_forward_f32",
            "const float* logits, const int* labels, const int* targets, float* loss, int n, int k, int kind"),
        ("loss.cu", "margin_loss_backward_f32",
            "const float* logits, const int* labels, const int* targets, const float* gloss, float* glogits, "
            + "int n, int k, int kind"),
        ("optim.cu", "sgd_step_f32",
            "float* param, const float* grad, float* momentum, float lr, float mom, float wd, int nesterov, "
            + "long long n, const float* lr_device"),
        ("augment.cu", "random_crop_flip_f32",
            "const float* x, float* y, int samples, int channels, int h, int w, int pad, int flip, "
            + "unsigned long long seed, unsigned int stream, unsigned int first_sample, const unsigned int* key"),
        ("noise.cu", "gaussian_noise_f32",
            "const float* x, float* y, const int* ids, float sigma, long long n, int per_sample, int x_rows, "
            + "unsigned long long seed, unsigned int stream, unsigned int first_sample, const unsigned int* key"),
        ("fab.cu", "fab_step_f32",
            "float* x, const float* x0, const float* grad, const float* logits, const int* labels, "
            + "const int* targets, int d, int k, int l2, float alpha_max, float eta"),
        ("fab.cu", "fab_accept_f32",
            "float* x, const float* x0, const float* logits, const int* labels, float* best, double* best_norm, "
            + "int d, int k, int l2, float beta"),
        ("square.cu", "square_linf_candidates_f32",
            "const float* x0, const float* best, const float* margin_min, const int* ids, float* cand, int c, int h, "
            + "int w, int s, float eps, unsigned long long seed, unsigned int stream, int query, const int* counter, "
            + "float p_init, int queries, int rescale, long long n"),
        ("square.cu", "square_l2_candidates_f32",
            "const float* x0, const float* best, const float* margin_min, const int* ids, float* cand, int c, int h, "
            + "int w, int s, float eps, unsigned long long seed, unsigned int stream, int query, const int* counter, "
            + "float p_init, int queries, int rescale"),
        ("square.cu", "square_accept_f32",
            "const float* logits, const int* labels, const float* cand, float* best, float* margin_min, "
            + "float* loss_min, int* counter, int k, int d"),
    ];

    private static readonly ConcurrentDictionary<string, Lazy<CompileResult>> Compiled = new();

    private sealed record CompileResult(int ExitCode, string Stderr, string Ptx);

    public static IEnumerable<string> CuFiles() =>
        Directory.Exists(KernelDir)
            ? Directory.GetFiles(KernelDir, "*.cu").Select(Path.GetFileName).OfType<string>().Order()
            : [];

    [Test]
    public void KernelDir_CopiedToOutput_HasEveryListedFile()
    {
        Assert.That(Directory.Exists(KernelDir), Is.True, $"kernel sources were not copied to {KernelDir}");
        foreach (var file in Expected.Select(e => e.File).Distinct())
            Assert.That(File.Exists(Path.Combine(KernelDir, file)), Is.True, $"{file} is missing from {KernelDir}");
        foreach (var header in new[] { "common.cuh", "philox.cuh", "compat.h" })
            Assert.That(File.Exists(Path.Combine(KernelDir, header)), Is.True, $"{header} is missing from {KernelDir}");
    }

    [TestCaseSource(nameof(CuFiles))]
    public void Compile_KernelFile_EmitsPtxEntryForEveryGlobal(string file)
    {
        var result = CompileOrIgnore(file);
        Assert.That(result.ExitCode, Is.Zero, $"clang failed on {file}:\n{result.Stderr}");
        var globals = GlobalNames(ReadSource(file));
        Assert.That(globals, Is.Not.Empty, $"{file} declares no extern \"C\" __global__ kernel");
        var entries = PtxEntries(result.Ptx);
        foreach (var name in globals)
            Assert.That(entries.ContainsKey(name), Is.True, $"{file}: no `.entry {name}` in the PTX");
    }

    [Test]
    public void Compile_ExpectedEntryPoints_PresentWithLauncherParameterTypes()
    {
        var mismatches = new List<string>();
        foreach (var group in Expected.GroupBy(e => e.File))
        {
            var result = CompileOrIgnore(group.Key);
            if (result.ExitCode != 0)
            {
                mismatches.Add($"clang failed on {group.Key}:\n{result.Stderr}");
                continue;
            }
            var entries = PtxEntries(result.Ptx);
            var declared = GlobalNames(ReadSource(group.Key));
            foreach (var (file, name, parameters) in group)
            {
                if (!declared.Contains(name)) mismatches.Add($"{file}: {name} is not declared extern \"C\" __global__");
                var want = string.Join(",", parameters.Split(',').Select(PtxType));
                if (!entries.TryGetValue(name, out var got))
                    mismatches.Add($"{file}: no `.entry {name}` in the PTX");
                else if (got != want)
                    mismatches.Add($"{file}: {name} has PTX parameters ({got}), want ({want}) for ({parameters})");
            }
            foreach (var name in declared.Where(n => group.All(e => e.Name != n)))
                mismatches.Add($"{group.Key}: {name} is not in the expected list; add it with its parameter list");
        }
        Assert.That(mismatches, Is.Empty, string.Join("\n", mismatches));
    }

    [Test]
    public void Expected_EveryEntryPoint_HasExactlyOneLauncher()
    {
        var launched = AdvRobust.Cuda.Kernels.Launches.Select(l => $"{l.Family}.cu {l.Name}").ToList();
        Assert.That(launched, Is.Unique);
        Assert.That(launched, Is.EquivalentTo(Expected.Select(e => $"{e.File} {e.Name}")));
    }

    [Test]
    public void Sources_NoKernelFile_IncludesCompatOrSystemHeaders()
    {
        var offenders = new List<string>();
        foreach (var path in KernelSources())
        {
            foreach (var (line, number) in File.ReadLines(path).Select((l, i) => (l.Trim(), i + 1)))
            {
                if (!line.StartsWith("#include", StringComparison.Ordinal)) continue;
                if (line.Contains("compat.h", StringComparison.Ordinal) || line.Contains('<'))
                    offenders.Add($"{Path.GetFileName(path)}:{number}: {line}");
            }
        }
        Assert.That(offenders, Is.Empty, "nvcc and NVRTC must not need compat.h, and NVRTC has no include path:\n"
            + string.Join("\n", offenders));
    }

    [TestCaseSource(nameof(CuFiles))]
    public void Sources_KernelFile_StartsWithHeaderCommentAndOrderedSections(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(KernelDir, file));
        Assert.That(lines, Is.Not.Empty, $"{file} is empty");
        Assert.That(lines[0], Does.StartWith($"// {file} "), $"{file} must start with `// {file} — <what>`");
        var header = string.Join("\n", lines.TakeWhile(l => l.StartsWith("//", StringComparison.Ordinal)));
        foreach (var part in new[] { "Math", "Layout", "Launch", "Traffic" })
            Assert.That(header, Does.Contain(part), $"{file}: the header comment does not state the {part}");

        var banner = Array.IndexOf(lines, "// ---- kernels ----");
        Assert.That(banner, Is.GreaterThan(0), $"{file} has no `// ---- kernels ----` banner");
        var firstGlobal = Array.FindIndex(lines, l => GlobalDecl().IsMatch(l));
        Assert.That(firstGlobal, Is.GreaterThan(banner), $"{file}: a kernel comes before the kernels banner");
        var lateHelper = Array.FindIndex(lines, banner, l => l.StartsWith("__device__", StringComparison.Ordinal));
        Assert.That(lateHelper, Is.EqualTo(-1),
            $"{file}:{lateHelper + 1}: device helpers go above the kernels banner");
        Assert.That(lines, Has.Length.LessThanOrEqualTo(500), $"{file} passes the 500-line hard cap");
    }

    // ---- helpers ----

    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\(")]
    private static partial Regex GlobalDecl();

    [GeneratedRegex(@"\.entry\s+(\w+)\s*\(([^)]*)\)")]
    private static partial Regex PtxEntry();

    [GeneratedRegex(@"\.param\s+\.(\w+)")]
    private static partial Regex PtxParam();

    private static IEnumerable<string> KernelSources() =>
        Directory.GetFiles(KernelDir, "*.cu").Concat(Directory.GetFiles(KernelDir, "*.cuh"));

    private static string ReadSource(string file) => File.ReadAllText(Path.Combine(KernelDir, file));

    private static List<string> GlobalNames(string source) =>
        GlobalDecl().Matches(source).Select(m => m.Groups[1].Value).ToList();

    /// <summary>Entry name → its PTX parameter types, e.g. "u64,f32,u32".</summary>
    private static Dictionary<string, string> PtxEntries(string ptx) =>
        PtxEntry().Matches(ptx).ToDictionary(m => m.Groups[1].Value,
            m => string.Join(",", PtxParam().Matches(m.Groups[2].Value).Select(p => p.Groups[1].Value)));

    /// <summary>The PTX type clang's NVPTX back end gives a C parameter (pointers and 64-bit integers: .u64).</summary>
    private static string PtxType(string parameter)
    {
        var p = parameter.Trim();
        if (p.Contains('*') || p.StartsWith("long long", StringComparison.Ordinal)
            || p.StartsWith("unsigned long long", StringComparison.Ordinal)) return "u64";
        if (p.StartsWith("float", StringComparison.Ordinal)) return "f32";
        if (p.StartsWith("int", StringComparison.Ordinal) || p.StartsWith("unsigned int", StringComparison.Ordinal))
            return "u32";
        throw new ArgumentException($"no PTX type known for parameter `{p}`");
    }

    private static CompileResult CompileOrIgnore(string file)
    {
        var clang = FindOnPath(Clang);
        if (clang is null)
        {
            var reason = $"{Clang} is not on PATH, so the kernel compile gate cannot run";
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                Assert.Fail(reason + " (CI=true requires it)");
            Assert.Ignore(reason);
        }
        return Compiled.GetOrAdd(file, f => new Lazy<CompileResult>(() => Compile(clang!, f))).Value;
    }

    private static CompileResult Compile(string clang, string file)
    {
        var ptx = Path.Combine(Path.GetTempPath(),
            $"advrobust-{Path.GetFileNameWithoutExtension(file)}-{Guid.NewGuid():N}.ptx");
        var start = new ProcessStartInfo(clang)
        {
            WorkingDirectory = KernelDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // -Wall -Wextra -Werror: warnings are errors for kernels too. +ptx64: without a toolkit clang assumes an old
        // PTX ISA that lacks the *_sync shuffles. See kernels/README.md.
        foreach (var arg in new[]
                 {
                     "-x", "cuda", "--cuda-device-only", "--cuda-gpu-arch=sm_70", "-nocudainc", "-nocudalib",
                     "-include", "compat.h", "-Xclang", "-target-feature", "-Xclang", "+ptx64",
                     "-Wall", "-Wextra", "-Werror", "-I", KernelDir, "-S", "-o", ptx, Path.Combine(KernelDir, file),
                 })
            start.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {clang}");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
            {
                process.Kill(entireProcessTree: true);
                return new CompileResult(-1, $"{clang} timed out after 120 s on {file}", "");
            }
            var log = stderr.Result + stdout.Result;
            return new CompileResult(process.ExitCode, log, File.Exists(ptx) ? File.ReadAllText(ptx) : "");
        }
        finally
        {
            if (File.Exists(ptx)) File.Delete(ptx);
        }
    }

    private static string? FindOnPath(string program)
    {
        string[] names = OperatingSystem.IsWindows() ? [program + ".exe", program] : [program];
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(dir => names.Select(name => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);
    }
}
