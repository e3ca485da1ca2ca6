using AdvRobust.Benchmarks.Support;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks.Peer;

/// <summary>Keeps only the cases of the `bench --peer` rows (<see cref="PeerRows.All"/>): BenchmarkDotNet's --filter
/// matches class and method names, not parameter values, and the rows need one shape of each class.</summary>
public sealed class PeerFilter : IFilter
{
    private static readonly HashSet<string> _cases = PeerRows.All.Select(r => r.OursCase).ToHashSet(StringComparer.Ordinal);

    public bool Predicate(BenchmarkCase benchmarkCase) => _cases.Contains(CaseKey.For(benchmarkCase));
}
