using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks.Support;

/// <summary>
/// The name of one benchmark case, "Class.Method(Name=value, ...)" with parameters sorted by name, built the same way
/// from a benchmark instance (in [GlobalSetup], which records measurements) and from BenchmarkDotNet's
/// <see cref="BenchmarkCase"/> (in the columns, which read them).
/// </summary>
public static class CaseKey
{
    public static string For(object benchmark, string method) =>
        Make(DeclaredType(benchmark.GetType()).Name, method,
            ParameterProperties(benchmark.GetType()).Select(p => (p.Name, p.GetValue(benchmark))));

    public static string For(BenchmarkCase c) =>
        Make(c.Descriptor.Type.Name, c.Descriptor.WorkloadMethod.Name,
            c.Parameters.Items.Select(p => (p.Name, (object?)p.Value)));

    /// <summary>
    /// The benchmark class as written: the in-process toolchain runs a generated subclass (Runnable_N) in another
    /// assembly, so walk up to the first type of this assembly.
    /// </summary>
    public static Type DeclaredType(Type type)
    {
        while (type.Assembly != typeof(CaseKey).Assembly && type.BaseType is { } parent) type = parent;
        return type;
    }

    /// <summary>The public properties BenchmarkDotNet treats as parameters.</summary>
    public static IEnumerable<PropertyInfo> ParameterProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p =>
            p.IsDefined(typeof(ParamsAttribute), true) || p.IsDefined(typeof(ParamsSourceAttribute), true) ||
            p.IsDefined(typeof(ParamsAllValuesAttribute), true));

    private static string Make(string type, string method, IEnumerable<(string Name, object? Value)> parameters) =>
        $"{type}.{method}(" + string.Join(", ", parameters.OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => $"{p.Name}={p.Value}")) + ")";
}
