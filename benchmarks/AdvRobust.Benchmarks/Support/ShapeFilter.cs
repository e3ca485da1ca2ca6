using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks.Support;

/// <summary>Drops the cases whose shape parameter (<see cref="IShape"/>) does not run on the case's device, e.g. the
/// N = 4096 distance on the CPU. Used by the BenchmarkDotNet config and by the smoke run alike.</summary>
public sealed class ShapeFilter : IFilter
{
    public bool Predicate(BenchmarkCase benchmarkCase) =>
        Keeps(benchmarkCase.Parameters.Items.Select(p => (p.Name, (object?)p.Value)));

    public static bool Keeps(IEnumerable<(string Name, object? Value)> parameters)
    {
        var list = parameters.ToList();
        var device = list.FirstOrDefault(p => p.Name == nameof(OpBenchmark.Device)).Value as string;
        var target = device == BenchDevices.Cuda ? Targets.Cuda : Targets.Cpu;
        return list.All(p => p.Value is not IShape shape || (shape.Targets & target) != 0);
    }
}
