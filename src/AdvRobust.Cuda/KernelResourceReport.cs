using System.Globalization;
using System.Text;

namespace AdvRobust.Cuda;

/// <summary>One kernel at one architecture: its resources, how its launcher launches it (null: no launcher), the
/// resident blocks and occupancy that follow, what limits them, and anything wrong.</summary>
public sealed record KernelResourceRow(KernelResource Resource, KernelLaunch? Launch, int BlocksPerSm,
    double Occupancy, string Limiter, IReadOnlyList<string> Problems);

/// <summary>
/// Joins NVRTC's per-kernel resources (<see cref="KernelResources"/>) with the block size and dynamic shared memory
/// each launcher asks for (<see cref="Kernels.Launches"/>) and the architecture's limits (<see cref="ArchLimits"/>).
/// A problem is a spill, a launch that cannot start (block size beyond the kernel's <c>__launch_bounds__</c> or the
/// architecture's limits, registers or shared memory per block too large), a kernel without a launcher or a launcher
/// without a kernel, or a log whose register count disagrees with the cubin's.
/// </summary>
public static class KernelResourceReport
{
    public static IReadOnlyList<KernelResourceRow> Build(IReadOnlyList<KernelResource> resources,
        IReadOnlyList<KernelLaunch> launches, ArchLimits limits)
    {
        var rows = new List<KernelResourceRow>();
        foreach (var r in resources.Where(r => r.Arch == limits.Arch))
        {
            var problems = new List<string>();
            var launch = launches.FirstOrDefault(l => l.Family == r.Family && l.Name == r.Name);
            if (r.Spills)
                problems.Add($"spills: {r.SpillStoreBytes} B stores, {r.SpillLoadBytes} B loads");
            if (r.Registers != r.CubinRegisters)
                problems.Add($"ptxas's log says {r.Registers} registers, the cubin {r.CubinRegisters}");
            int blocks = 0;
            double occupancy = 0;
            string limiter = "";
            if (launch is null)
            {
                problems.Add("no launcher in Kernels launches it");
            }
            else
            {
                int block = (int)launch.BlockThreads;
                int shared = r.StaticSharedBytes + (int)launch.DynamicSharedBytes;
                blocks = limits.BlocksPerSm(block, r.Registers, shared, out limiter);
                occupancy = limits.Occupancy(block, r.Registers, shared);
                if (blocks == 0) problems.Add("cannot launch: " + limiter);
                if (r.MaxThreadsPerBlock is { } bound && block > bound)
                {
                    problems.Add($"launcher's block of {block} threads > __launch_bounds__ {bound}");
                    blocks = 0;
                    occupancy = 0;
                }
            }
            rows.Add(new KernelResourceRow(r, launch, blocks, occupancy, limiter, problems));
        }
        foreach (var l in launches.Where(l => !resources.Any(r => r.Arch == limits.Arch && r.Family == l.Family
                                                                   && r.Name == l.Name)))
        {
            var missing = new KernelResource(l.Family, l.Name, limits.Arch, 0, 0, 0, 0, 0, 0, null);
            rows.Add(new KernelResourceRow(missing, l, 0, 0, "", [$"launched, but {l.Family}.cu has no such kernel"]));
        }
        return rows;
    }

    /// <summary>Every problem of the rows, one line each, naming the kernel and architecture.</summary>
    public static IReadOnlyList<string> Problems(IEnumerable<KernelResourceRow> rows) =>
        rows.SelectMany(row => row.Problems.Select(p => $"{row.Resource.Family}.cu {row.Resource.Name} " +
                                                         $"({row.Resource.Arch}): {p}")).ToList();

    /// <summary>A Markdown table of the rows (what <c>build.ps1 kernels</c> prints and writes to kernels/RESOURCES.md).</summary>
    public static string Table(IReadOnlyList<KernelResourceRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| family | kernel | block | regs | smem static | smem dynamic | stack | spills | bounds "
                      + "| blocks/SM | occupancy | limited by |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var row in rows.OrderBy(r => r.Resource.Family, StringComparer.Ordinal)
                     .ThenBy(r => r.Resource.Name, StringComparer.Ordinal))
        {
            var r = row.Resource;
            string spills = r.Spills ? $"**{r.SpillStoreBytes}/{r.SpillLoadBytes} B**" : "0";
            string limiter = row.Problems.Count > 0 ? "**" + string.Join("; ", row.Problems) + "**" : row.Limiter;
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Family} | {r.Name} | {row.Launch?.BlockThreads.ToString(CultureInfo.InvariantCulture) ?? "-"} " +
                $"| {r.Registers} | {r.StaticSharedBytes} | {row.Launch?.DynamicSharedBytes.ToString(CultureInfo.InvariantCulture) ?? "-"} " +
                $"| {r.StackFrameBytes} | {spills} | {r.MaxThreadsPerBlock?.ToString(CultureInfo.InvariantCulture) ?? "-"} " +
                $"| {row.BlocksPerSm} | {row.Occupancy * 100:0.#}% | {limiter} |"));
        }
        return sb.ToString();
    }

    /// <summary>The whole kernels/RESOURCES.md: how it was made, the limits used, one table per architecture.</summary>
    public static string Markdown(IReadOnlyList<(ArchLimits Limits, IReadOnlyList<KernelResourceRow> Rows)> tables,
        (int Major, int Minor) nvrtc)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Kernel resources");
        sb.AppendLine();
        sb.AppendLine($"Written by `build.ps1 kernels` (`advrobust kernels --markdown kernels/RESOURCES.md`): every " +
                      $"`kernels/*.cu` compiled by NVRTC {nvrtc.Major}.{nvrtc.Minor} through the engine's own bindings " +
                      "(`KernelCache.CubinFor`, the options the GPU path uses, with `--ptxas-options=-v`), resources from " +
                      "ptxas's log and the cubin's EIATTR records, block size and dynamic shared memory from the " +
                      "launchers in `src/AdvRobust.Cuda/Kernels*.cs` (`Kernels.Launches`). Do not edit by hand.");
        sb.AppendLine();
        sb.AppendLine("Occupancy = resident warps per SM / 64, with registers allocated per warp in units of 256 over 4 " +
                      "sub-partitions, shared memory in units of 128 B plus 1 KB reserved per block, at most 32 " +
                      "blocks and 64 warps per SM (limits and their sources in `src/AdvRobust.Cuda/ArchLimits.cs`). " +
                      "`bounds` is the kernel's `__launch_bounds__`; `stack` its stack frame in bytes; spills are " +
                      "store/load bytes.");
        foreach (var (limits, rows) in tables)
        {
            sb.AppendLine();
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"## {limits.Arch} (registers per SM {limits.RegistersPerSm}, shared per SM {limits.SharedPerSm / 1024} KB)"));
            sb.AppendLine();
            sb.Append(Table(rows));
        }
        return sb.ToString();
    }
}
