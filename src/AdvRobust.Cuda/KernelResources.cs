using System.Text.RegularExpressions;

namespace AdvRobust.Cuda;

/// <summary>What ptxas reported for one kernel compiled for one architecture, with the cubin's own record of its
/// registers and <c>__launch_bounds__</c>.</summary>
public sealed record KernelResource(string Family, string Name, string Arch, int Registers, int StaticSharedBytes,
    int StackFrameBytes, int SpillStoreBytes, int SpillLoadBytes, int CubinRegisters, int? MaxThreadsPerBlock)
{
    public bool Spills => SpillStoreBytes > 0 || SpillLoadBytes > 0;
}

/// <summary>
/// Kernel resources from NVRTC itself: every family is compiled through <see cref="KernelCache.CubinFor"/> (the
/// engine's own bindings and cache, the same call the GPU path makes) with <c>--ptxas-options=-v</c>, and ptxas's report in the
/// program log is parsed per entry function:
/// <code>
/// ptxas info    : Compiling entry function 'triplet_mine_f32' for 'sm_90'
/// ptxas info    : Function properties for triplet_mine_f32
/// ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ptxas info    : Used 106 registers, 8320 bytes smem
/// </code>
/// The cubin's EIATTR records (<see cref="CubinElf"/>) give the registers a second time, from the loaded artifact, and
/// the launch bounds, which the log does not state.
/// </summary>
public static partial class KernelResources
{
    /// <summary>Every family's cubin for <paramref name="arch"/> through <see cref="KernelCache.CubinFor"/> (from the
    /// cache in <paramref name="cacheDirectory"/>, else compiled now), and each kernel's resources, by family then name.
    /// Throws <see cref="NvrtcException"/> (with the log) when a family does not compile, and
    /// <see cref="InvalidDataException"/> when the log lacks a kernel's report.</summary>
    public static IReadOnlyList<KernelResource> Measure(string arch, string? cacheDirectory = null)
    {
        var all = new List<KernelResource>();
        foreach (var family in KernelSources.Families)
        {
            var (compiled, _) = KernelCache.CubinFor(family, arch, cacheDirectory);
            all.AddRange(Parse(family, arch, compiled.Log, CubinElf.Functions(compiled.Cubin, $"{family}.cu {arch} cubin")));
        }
        return all;
    }

    /// <summary>The entry functions of one family's ptxas log, joined with the cubin's records of the same kernels.</summary>
    public static IReadOnlyList<KernelResource> Parse(string family, string arch, string log,
        IReadOnlyDictionary<string, CubinFunction> cubin)
    {
        var entries = new Dictionary<string, (int? Regs, int Smem, int? Stack, int Stores, int Loads)>(StringComparer.Ordinal);
        string? entry = null, properties = null;
        foreach (var line in log.Split('\n'))
        {
            if (CompilingEntry().Match(line) is { Success: true } c)
            {
                if (c.Groups[2].Value != arch)
                    throw new InvalidDataException($"{family}.cu: ptxas compiled {c.Groups[1].Value} for " +
                                                   $"{c.Groups[2].Value}, not {arch}");
                entry = c.Groups[1].Value;
                entries.TryAdd(entry, (null, 0, null, 0, 0));
            }
            else if (PropertiesFor().Match(line) is { Success: true } p)
            {
                properties = p.Groups[1].Value;
            }
            else if (StackLine().Match(line) is { Success: true } s && properties is not null
                     && entries.TryGetValue(properties, out var e))
            {
                entries[properties] = e with
                {
                    Stack = int.Parse(s.Groups[1].Value), Stores = int.Parse(s.Groups[2].Value),
                    Loads = int.Parse(s.Groups[3].Value),
                };
            }
            else if (UsedLine().Match(line) is { Success: true } u && entry is not null)
            {
                entries[entry] = entries[entry] with
                {
                    Regs = int.Parse(u.Groups[1].Value),
                    Smem = SmemBytes().Match(line) is { Success: true } m ? int.Parse(m.Groups[1].Value) : 0,
                };
                entry = null;
            }
        }
        var result = new List<KernelResource>();
        foreach (var (name, r) in entries.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (r.Regs is null || r.Stack is null)
                throw new InvalidDataException($"{family}.cu ({arch}): ptxas's log has no " +
                                               $"{(r.Regs is null ? "\"Used N registers\"" : "stack/spill")} line for " +
                                               $"{name}; was --ptxas-options=-v passed?\n--- log ---\n{log}");
            if (!cubin.TryGetValue(name, out var fn))
                throw new InvalidDataException($"{family}.cu ({arch}): the cubin has no kernel {name}");
            result.Add(new KernelResource(family, name, arch, r.Regs.Value, r.Smem, r.Stack.Value, r.Stores, r.Loads,
                fn.Registers, fn.MaxThreadsPerBlock));
        }
        if (result.Count == 0)
            throw new InvalidDataException($"{family}.cu ({arch}): ptxas's log names no entry function; was " +
                                           $"--ptxas-options=-v passed?\n--- log ---\n{log}");
        return result;
    }

    [GeneratedRegex(@"Compiling entry function '(\w+)' for '(\w+)'")]
    private static partial Regex CompilingEntry();

    [GeneratedRegex(@"Function properties for (\S+)")]
    private static partial Regex PropertiesFor();

    [GeneratedRegex(@"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")]
    private static partial Regex StackLine();

    [GeneratedRegex(@"Used (\d+) registers")]
    private static partial Regex UsedLine();

    [GeneratedRegex(@"(\d+) bytes smem")]
    private static partial Regex SmemBytes();
}
