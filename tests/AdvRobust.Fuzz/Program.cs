using SharpFuzz;

namespace AdvRobust.Fuzz;

/// <summary>
/// The harness (README.md here). Under libFuzzer (libfuzzer-dotnet.c starts it with the target name as its one
/// argument and the shared-memory/pipe variables set) it runs SharpFuzz's loop on that target; by hand:
/// <c>AdvRobust.Fuzz list</c>, <c>AdvRobust.Fuzz replay TARGET FILE|DIR...</c> (exit 1 on a finding) and
/// <c>AdvRobust.Fuzz seeds CONFIGS_DIR OUT_DIR</c> (writes the seed corpus).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            if (Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") is not null && args.Length == 1)
            {
                var target = FuzzTargets.Get(args[0]);
                Fuzzer.LibFuzzer.Run(data => FuzzContract.Check(target, data));
                return 0;
            }
            return args switch
            {
                ["list"] => List(),
                ["replay", string name, .. var inputs] when inputs.Length > 0 => Replay(FuzzTargets.Get(name), inputs),
                ["seeds", string configs, string output] => WriteSeeds(configs, output),
                _ => Usage(),
            };
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"AdvRobust.Fuzz: {e.Message}");
            return 2;
        }
    }

    private static int List()
    {
        foreach (var t in FuzzTargets.All) Console.WriteLine($"{t.Name,-12} {t.Reads}");
        return 0;
    }

    private static int Replay(FuzzTarget target, string[] inputs)
    {
        int findings = 0, files = 0;
        foreach (string input in inputs)
        {
            string[] paths = Directory.Exists(input) ? Directory.GetFiles(input).Order(StringComparer.Ordinal).ToArray()
                : File.Exists(input) ? [input]
                : throw new ArgumentException($"replay: '{input}' is neither a file nor a folder");
            foreach (string path in paths)
            {
                files++;
                try
                {
                    FuzzContract.Check(target, File.ReadAllBytes(path));
                }
                catch (FuzzFindingException e)
                {
                    findings++;
                    Console.WriteLine($"FINDING {path}: {e.Message}");
                    if (e.InnerException is { } inner) Console.WriteLine(inner);
                }
            }
        }
        Console.WriteLine($"{target.Name}: replayed {files} inputs, {findings} findings");
        return findings == 0 ? 0 : 1;
    }

    private static int WriteSeeds(string configs, string output)
    {
        int count = 0;
        foreach (var (target, name, bytes) in Seeds.All(configs))
        {
            string dir = Path.Combine(output, target);
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
            count++;
        }
        Console.WriteLine($"wrote {count} seed files under {output}");
        return 0;
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: AdvRobust.Fuzz TARGET (under libfuzzer-dotnet) | list | " +
            "replay TARGET FILE|DIR... | seeds CONFIGS_DIR OUT_DIR");
        return 2;
    }
}
