using System.Text;

using AdvRobust.Core.Diagnostics;

namespace AdvRobust.Cpu.Diagnostics;

/// <summary>
/// A snapshot of a <see cref="CountingBackend"/>'s counters: launches per op name (one per compute-op call),
/// synchronizations, copies and bytes per direction (device→host CopyOut, host→device CopyIn, device→device Copy) and
/// allocations with bytes. Subtract two snapshots for what happened in between.
/// </summary>
public sealed record BackendCounts(
    IReadOnlyDictionary<string, long> LaunchesByOp,
    long Syncs,
    long DeviceToHostCopies, long DeviceToHostBytes,
    long HostToDeviceCopies, long HostToDeviceBytes,
    long DeviceToDeviceCopies, long DeviceToDeviceBytes,
    long Allocations, long AllocatedBytes)
{
    public static BackendCounts Zero { get; } = new(new Dictionary<string, long>(), 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /// <summary>Every compute-op call.</summary>
    public long Launches => LaunchesByOp.Values.Sum();

    /// <summary>Launches of one op by its IBackend member name, e.g. "Conv2dForward"; 0 when never called.</summary>
    public long LaunchesOf(string op) => LaunchesByOp.GetValueOrDefault(op);

    public StepCounts Steps => new(Launches, Syncs, DeviceToHostCopies, DeviceToHostBytes, HostToDeviceCopies,
        HostToDeviceBytes, Allocations);

    public static BackendCounts operator -(BackendCounts a, BackendCounts b)
    {
        var ops = a.LaunchesByOp.Keys.Union(b.LaunchesByOp.Keys)
            .Select(op => (op, n: a.LaunchesOf(op) - b.LaunchesOf(op)))
            .Where(e => e.n != 0)
            .ToDictionary(e => e.op, e => e.n, StringComparer.Ordinal);
        return new BackendCounts(ops, a.Syncs - b.Syncs,
            a.DeviceToHostCopies - b.DeviceToHostCopies, a.DeviceToHostBytes - b.DeviceToHostBytes,
            a.HostToDeviceCopies - b.HostToDeviceCopies, a.HostToDeviceBytes - b.HostToDeviceBytes,
            a.DeviceToDeviceCopies - b.DeviceToDeviceCopies, a.DeviceToDeviceBytes - b.DeviceToDeviceBytes,
            a.Allocations - b.Allocations, a.AllocatedBytes - b.AllocatedBytes);
    }

    /// <summary>Equal counts, op by op (records compare dictionaries by reference).</summary>
    public bool SameCounts(BackendCounts other) =>
        Steps == other.Steps && DeviceToDeviceCopies == other.DeviceToDeviceCopies &&
        DeviceToDeviceBytes == other.DeviceToDeviceBytes && AllocatedBytes == other.AllocatedBytes &&
        LaunchesByOp.Count == other.LaunchesByOp.Count &&
        LaunchesByOp.All(e => other.LaunchesOf(e.Key) == e.Value);

    /// <summary>The totals on one line, then launches per op, most frequent first.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append($"{Steps}, D2D {DeviceToDeviceCopies} copies / {DeviceToDeviceBytes} B, ");
        text.Append($"{AllocatedBytes} B allocated");
        foreach (var (op, n) in LaunchesByOp.OrderByDescending(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal))
            text.Append($"\n  {op,-28} {n,8}");
        return text.ToString();
    }
}
