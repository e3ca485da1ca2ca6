using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Cpu.Diagnostics;

namespace AdvRobust.Tests.Training.Objectives;

/// <summary>
/// The CPU backend behind the shared <see cref="CountingBackend"/>, which also remembers every storage it allocates
/// (so a test can count the ones still alive). Tensors allocated here carry this wrapper as their backend, so every op
/// on them comes through it; the counts below are the counting wrapper's.
/// </summary>
public sealed class TrackingBackend() : CountingBackend(CpuBackend.Instance)
{
    private readonly List<Storage> _allocated = [];

    public int LiveStorages
    {
        get
        {
            lock (_allocated) return _allocated.Count(s => !s.IsDisposed);
        }
    }

    /// <summary>Weight-gradient passes so far (convolution backward-filter launches).</summary>
    public int BackwardFilterCalls => (int)Snapshot().LaunchesOf(nameof(IBackend.Conv2dBackwardFilter));

    /// <summary>Device→host copies (CopyOut) and synchronizations so far: a training step on a device-resident path
    /// makes no CopyOut and no Synchronize.</summary>
    public int CopyOutCalls => (int)Snapshot().DeviceToHostCopies;
    public int SynchronizeCalls => (int)Snapshot().Syncs;

    /// <summary>Device→host copies so far (CopyOut calls; the FAB/Square tests' name).</summary>
    public int CopyOuts => CopyOutCalls;

    public override Storage Allocate(DType dtype, long length)
    {
        var storage = base.Allocate(dtype, length);
        lock (_allocated) _allocated.Add(storage);
        return storage;
    }
}
