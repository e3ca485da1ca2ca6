namespace AdvRobust.Benchmarks.Support;

/// <summary>One measured op of a benchmark class: the [Benchmark] method's name, its work per launch, and the
/// launch itself (asynchronous on a GPU; the benchmark method adds the synchronization).</summary>
public sealed record BenchOp(string Method, Work Work, Action Launch);
