using System.Collections.Concurrent;

namespace AdvRobust.Benchmarks.Support;

/// <summary>What [GlobalSetup] learned about one case: its work per launch and, on a GPU, the event-timed
/// milliseconds per launch (null on the CPU, whose time is BenchmarkDotNet's mean).</summary>
public sealed record CaseRecord(Work Work, double? GpuMs);

/// <summary>
/// The process-wide registry that carries measurements from [GlobalSetup] to the summary columns, keyed by
/// <see cref="CaseKey"/>. It works because every benchmark runs in-process (see <see cref="BenchConfig"/>).
/// </summary>
public static class Measurements
{
    private static readonly ConcurrentDictionary<string, CaseRecord> _cases = new();

    public static void Record(string key, CaseRecord record) => _cases[key] = record;

    public static CaseRecord? Find(string key) => _cases.TryGetValue(key, out var r) ? r : null;
}
