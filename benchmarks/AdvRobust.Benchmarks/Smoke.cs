using System.Collections;
using System.Diagnostics;
using System.Reflection;
using AdvRobust.Benchmarks.Support;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// `--smoke [--device cpu|cuda]`: every benchmark case of one device (cpu by default) runs in-process without
/// BenchmarkDotNet: [GlobalSetup], one untimed call of each [Benchmark] method (JIT, caches), one timed call, then
/// [GlobalCleanup]. Prints one line per case with its time and derived rate; on cuda the time is the event-timed
/// median from [GlobalSetup]. A check that every case runs, not a measurement. Exit code 1 if any case failed.
/// A class may give smaller smoke cases than its measured ones (a static "Smoke" + [ParamsSource] name property,
/// e.g. SmallCnnBenchmarks.SmokeBatches), to keep the whole smoke run under a minute. `--only A,B` keeps the classes
/// whose name contains one of the comma-separated parts (the GPU check's rehearsal on the emulator runs a few).
/// </summary>
public static class Smoke
{
    public const string Flag = "--smoke";

    /// <summary>A static property "Smoke" + the [ParamsSource] name replaces that source in the smoke run.</summary>
    public const string SmokePrefix = "Smoke";

    public static int Run(string[] args)
    {
        int at = Array.IndexOf(args, "--device");
        string device = at >= 0 && at + 1 < args.Length ? args[at + 1] : BenchDevices.Cpu;
        if (!BenchDevices.Names.Contains(device))
        {
            string why = BenchDevices.CudaUnavailableReason is { } reason ? $" (cuda: {reason})" : "";
            Console.Error.WriteLine($"smoke: device '{device}' is not available here; available: " +
                $"{string.Join(", ", BenchDevices.Names)}{why}");
            return 1;
        }
        Console.WriteLine($"smoke run on {device}: {BenchDevices.Open(device).DeviceName}; " +
            (device == BenchDevices.Cuda
                ? "time = CUDA-event median per launch"
                : "time = one call after one warm-up call"));

        int only = Array.IndexOf(args, "--only");
        string[] parts = only >= 0 && only + 1 < args.Length
            ? args[only + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : [];
        var clock = Stopwatch.StartNew();
        int cases = 0, failures = 0;
        foreach (var type in BenchmarkTypes()
                     .Where(t => parts.Length == 0 || parts.Any(p => t.Name.Contains(p, StringComparison.Ordinal))))
        {
            foreach (var parameters in ParameterSpace(type, device))
            {
                if (!ShapeFilter.Keeps(parameters.Select(p => (p.Property.Name, p.Value)))) continue;
                var bench = (OpBenchmark)Activator.CreateInstance(type)!;
                foreach (var (property, value) in parameters) property.SetValue(bench, value);
                string shown = string.Join(", ", parameters.Where(p => p.Property.Name != nameof(OpBenchmark.Device))
                    .Select(p => $"{p.Property.Name}={p.Value}"));
                var methods = type.GetMethods().Where(m => m.IsDefined(typeof(BenchmarkAttribute))).ToList();
                cases += methods.Count;
                try
                {
                    bench.GlobalSetup();
                    foreach (var method in methods)
                    {
                        try { Console.WriteLine(RunCase(bench, method, shown)); }
                        catch (Exception e) { failures++; Report(type, method.Name, shown, e); }
                    }
                }
                catch (Exception e)
                {
                    failures += methods.Count;
                    Report(type, "GlobalSetup", shown, e);
                }
                finally
                {
                    bench.GlobalCleanup();
                }
            }
        }
        if (device == BenchDevices.Cuda && BenchDevices.CudaBackend is { } cuda)
            Console.WriteLine(DeviceCeilings.Describe(cuda));
        Console.WriteLine($"smoke: {cases} cases, {failures} failed, {clock.Elapsed.TotalSeconds:F1} s");
        return failures == 0 && cases > 0 ? 0 : 1;
    }

    private static string RunCase(OpBenchmark bench, MethodInfo method, string shown)
    {
        Invoke(bench, method);
        var watch = Stopwatch.StartNew();
        Invoke(bench, method);
        double hostMs = watch.Elapsed.TotalMilliseconds;
        var record = Measurements.Find(CaseKey.For(bench, method.Name))
            ?? throw new InvalidOperationException($"[GlobalSetup] recorded nothing for {method.Name}");
        double ms = record.GpuMs ?? hostMs;
        string name = bench.GetType().Name + "." + method.Name;
        return $"{name,-34} {shown,-34} {ms,10:F3} ms  {record.Work.FormatRate(ms)}";
    }

    private static void Invoke(OpBenchmark bench, MethodInfo method)
    {
        try
        {
            method.Invoke(bench, null);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    private static void Report(Type type, string method, string shown, Exception e) =>
        Console.WriteLine($"FAILED {type.Name}.{method} {shown}: {e.GetType().Name}: {e.Message}");

    private static IEnumerable<Type> BenchmarkTypes() =>
        typeof(Smoke).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(OpBenchmark)) && !t.IsAbstract)
            .OrderBy(t => t.Name, StringComparer.Ordinal);

    /// <summary>The cross product of a class's parameter values as BenchmarkDotNet builds it, Device fixed.</summary>
    private static List<List<(PropertyInfo Property, object? Value)>> ParameterSpace(Type type, string device)
    {
        var space = new List<List<(PropertyInfo, object?)>> { new() };
        foreach (var property in CaseKey.ParameterProperties(type))
        {
            var values = property.Name == nameof(OpBenchmark.Device) ? [device] : ValuesOf(type, property);
            space = space.SelectMany(prefix =>
                values.Select(v => new List<(PropertyInfo, object?)>(prefix) { (property, v) })).ToList();
        }
        return space;
    }

    private static List<object?> ValuesOf(Type type, PropertyInfo property)
    {
        if (property.GetCustomAttribute<ParamsAttribute>(true) is { } fixedValues) return [.. fixedValues.Values];
        if (property.GetCustomAttribute<ParamsAllValuesAttribute>(true) is not null)
            return property.PropertyType == typeof(bool) ? [false, true] : [.. Enum.GetValues(property.PropertyType)];
        string source = property.GetCustomAttribute<ParamsSourceAttribute>(true)!.Name;
        const BindingFlags flags = BindingFlags.Public | BindingFlags.Static | BindingFlags.FlattenHierarchy;
        // A class whose measured cases take seconds per call offers smaller ones for the smoke run as "Smoke<source>".
        if (type.GetProperty(SmokePrefix + source, flags) is not null) source = SmokePrefix + source;
        object? result = type.GetProperty(source, flags)?.GetValue(null)
            ?? type.GetMethod(source, flags, [])?.Invoke(null, null);
        return result is IEnumerable items
            ? items.Cast<object?>().ToList()
            : throw new InvalidOperationException(
                $"{type.Name}: [ParamsSource(\"{source}\")] is not a static enumerable");
    }
}
