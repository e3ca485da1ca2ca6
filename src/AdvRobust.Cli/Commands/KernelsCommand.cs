using System.CommandLine;
using AdvRobust.Cuda;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `advrobust kernels`: compiles every kernel with NVRTC for sm_80 and sm_90 (no GPU needed), prints each kernel's
/// registers, shared memory, spills and occupancy under its launcher's block size, and optionally writes the Markdown
/// report. Exit code 1 when a kernel spills or a launch could not start; 3 when NVRTC is missing or fails.
/// </summary>
public static class KernelsCommand
{
    public static Command Create()
    {
        var markdown = new Option<FileInfo?>("--markdown") { Description = "also write the report here (kernels/RESOURCES.md)" };
        var arch = new Option<string[]>("--arch")
        {
            Description = "architectures to report (default: sm_80 sm_90)",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("kernels",
            "compile every kernel with NVRTC and report registers, shared memory, spills and occupancy per architecture")
        {
            markdown, arch,
        };
        command.SetAction(parse => Run(parse.GetValue(arch), parse.GetValue(markdown)));
        return command;
    }

    private static int Run(string[]? archs, FileInfo? markdown)
    {
        var limits = archs is { Length: > 0 } ? archs.Select(ArchLimits.For).ToList() : ArchLimits.Reported.ToList();
        var nvrtc = KernelCache.NvrtcVersion();
        var tables = new List<(ArchLimits, IReadOnlyList<KernelResourceRow>)>();
        var problems = new List<string>();
        foreach (var l in limits)
        {
            var rows = KernelResourceReport.Build(KernelResources.Measure(l.Arch), Kernels.Launches, l);
            tables.Add((l, rows));
            problems.AddRange(KernelResourceReport.Problems(rows));
        }
        string report = KernelResourceReport.Markdown(tables, nvrtc);
        Console.Write(report);
        if (markdown is not null)
        {
            File.WriteAllText(markdown.FullName, report);
            Console.WriteLine($"\nwrote {markdown.FullName}");
        }
        if (problems.Count == 0) return 0;
        Console.Error.WriteLine($"advrobust kernels: {problems.Count} problem(s):");
        foreach (var p in problems) Console.Error.WriteLine("  " + p);
        return 1;
    }
}
