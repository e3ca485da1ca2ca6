using AdvRobust.Core.Diagnostics;

namespace AdvRobust.Cuda;

/// <summary>
/// The CUDA emulator's counters (<see cref="EmulatorCounters.Total"/>) in <see cref="StepCounts"/> units, so a budget
/// test asserts the same numbers here as on the counting backend (AdvRobust.Cpu.Diagnostics.CountingBackend): launches
/// = kernel launches + cuBLAS/cuDNN calls + memsets; syncs = stream, context and event synchronizations; allocations =
/// every device allocation (tensors, scratch, workspaces). Throws <see cref="InvalidOperationException"/> when the
/// emulator is not selected.
/// </summary>
public sealed class EmulatorStepCounter : IStepCounter
{
    public StepCounts Read() => From(EmulatorCounters.Total);

    public static StepCounts From(EmulatorCount c) => new(
        c.KernelLaunches + c.LibraryCalls + c.Memsets, c.Syncs,
        c.DeviceToHostCopies, c.DeviceToHostBytes, c.HostToDeviceCopies, c.HostToDeviceBytes, c.Allocations);
}
