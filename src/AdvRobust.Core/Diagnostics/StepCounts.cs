namespace AdvRobust.Core.Diagnostics;

/// <summary>
/// What one step costs in the units a budget is written in, read the same way from the counting backend
/// (<c>AdvRobust.Cpu.Diagnostics.CountingBackend</c>, over CPU or CUDA) and from the CUDA emulator's counters
/// (<c>AdvRobust.Cuda.EmulatorStepCounter</c>), so one test can assert one budget on both. Launches: compute ops
/// (counting backend: one per IBackend op call; emulator: kernel launches + cuBLAS/cuDNN calls + memsets). Syncs:
/// counting backend: Synchronize calls (a CopyOut waits too, and counts as a D2H copy); emulator: every stream, context
/// and event synchronization. Allocations: counting backend: tensor allocations (IBackend.Allocate); emulator: every
/// device allocation, scratch and workspaces included. Device-to-device copies are not launches (the counting backend's
/// BackendCounts has them).
/// </summary>
public readonly record struct StepCounts(
    long Launches, long Syncs,
    long DeviceToHostCopies, long DeviceToHostBytes,
    long HostToDeviceCopies, long HostToDeviceBytes,
    long Allocations)
{
    public static StepCounts operator -(StepCounts a, StepCounts b) => new(
        a.Launches - b.Launches, a.Syncs - b.Syncs,
        a.DeviceToHostCopies - b.DeviceToHostCopies, a.DeviceToHostBytes - b.DeviceToHostBytes,
        a.HostToDeviceCopies - b.HostToDeviceCopies, a.HostToDeviceBytes - b.HostToDeviceBytes,
        a.Allocations - b.Allocations);

    /// <summary>The counts <paramref name="step"/> adds to <paramref name="counter"/>'s totals.</summary>
    public static StepCounts Measure(IStepCounter counter, Action step)
    {
        ArgumentNullException.ThrowIfNull(counter);
        ArgumentNullException.ThrowIfNull(step);
        var before = counter.Read();
        step();
        return counter.Read() - before;
    }

    public override string ToString() =>
        $"{Launches} launches, {Syncs} syncs, D2H {DeviceToHostCopies} copies / {DeviceToHostBytes} B, " +
        $"H2D {HostToDeviceCopies} copies / {HostToDeviceBytes} B, {Allocations} allocations";
}

/// <summary>A source of running totals in <see cref="StepCounts"/> units; a step's counts are the difference of two
/// reads.</summary>
public interface IStepCounter
{
    /// <summary>The totals so far.</summary>
    StepCounts Read();
}
