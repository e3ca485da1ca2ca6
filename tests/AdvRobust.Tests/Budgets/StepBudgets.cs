using AdvRobust.Core.Diagnostics;

namespace AdvRobust.Tests.Budgets;

/// <summary>The most a step may cost; every field is an upper bound, so a regression fails and an improvement passes
/// until the budget is lowered to it.</summary>
public sealed record StepBudget(long Launches, long Syncs, long DeviceToHostBytes, long HostToDeviceBytes,
    long Allocations)
{
    public void AssertWithin(StepCounts measured, string what) => Assert.Multiple(() =>
    {
        Assert.That(measured.Launches, Is.LessThanOrEqualTo(Launches), $"{what}: launches per step");
        Assert.That(measured.Syncs, Is.LessThanOrEqualTo(Syncs), $"{what}: synchronizations per step");
        Assert.That(measured.DeviceToHostBytes, Is.LessThanOrEqualTo(DeviceToHostBytes), $"{what}: D2H bytes per step");
        Assert.That(measured.HostToDeviceBytes, Is.LessThanOrEqualTo(HostToDeviceBytes), $"{what}: H2D bytes per step");
        Assert.That(measured.Allocations, Is.LessThanOrEqualTo(Allocations), $"{what}: allocations per step");
    });
}

/// <summary>
/// Per-step budgets of issue 13 for the <see cref="BudgetWorkload"/> steps (ResNet-18, width 4, 3×16×16, batch 4), in
/// one place: one step of a PGD-10 attack (update, forward, backward to the input, device bookkeeping), and one
/// PGD-AT and one TLA training step as the trainer runs it after the batch upload (the objective with its statistics
/// left on the device, then SGD; a step that does not read them), and one Square query. Measured on main 386e441 plus
/// this branch (the Square query on 9ec794f plus h-squaregraph), eager (CUDA graphs off), identical on the CPU and on
/// the CUDA emulator as the counting wrapper sees them, every measured step alike. Lower a number when a change reaches it; never raise one to make a test pass. The counting backend's
/// Syncs are explicit Synchronize calls only (on CUDA every CopyOut waits too: the emulator's Syncs count those).
/// </summary>
public static class StepBudgets
{
    // ---- as the counting wrapper sees them (IBackend calls: the same on the CPU and CUDA backends) ----
    // A PGD step: nothing crosses to the host. Allocations are the tape's (the backends pool them).
    public static readonly StepBudget Pgd10StepOps = new(Launches: 145, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 0, Allocations: 144);

    // PGD-AT and TLA: the attack is PGD's device-only single run (Pgd.RunOnDevice), so nothing crosses to the host
    // but TLA's uploads: the negative pool, its labels and the positives, drawn on the host from the training set
    // every step (through the pinned ring: no wait).
    public static readonly StepBudget PgdAtStepOps = new(Launches: 2104, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 0, Allocations: 1771);

    public static readonly StepBudget TlaStepOps = new(Launches: 2752, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 24592, Allocations: 2425);

    // ---- as the CUDA emulator sees them (kernels + cuBLAS/cuDNN calls + memsets; every device allocation) ----
    public static readonly StepBudget Pgd10StepEmulator = new(Launches: 185, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 0, Allocations: 144);

    public static readonly StepBudget PgdAtStepEmulator = new(Launches: 2583, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 0, Allocations: 1771);

    public static readonly StepBudget TlaStepEmulator = new(Launches: 3391, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 24592, Allocations: 2427);

    // A Square query: candidates, one forward pass of the batch, the acceptance; the query counter stays on the device.
    public static readonly StepBudget SquareQueryOps = new(Launches: 71, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 0, Allocations: 69);

    public static readonly StepBudget SquareQueryEmulator = new(Launches: 91, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 0, Allocations: 69);

    // ---- a replayed training step (Trainer with graphs on: TrainStepGraph), as the CUDA emulator sees the host ----
    // Launches here are what the host issues: the step's graph and the update's graph, no kernel (the replayed kernels,
    // library calls and allocations of the graphs run on the device). Before them, the non-blocking uploads: pixels,
    // labels, sample ids, three Philox keys (augmentation, PGD start, noise) and the learning rate. Measured on the
    // RunTestModel at batch 8 (1×8×8 images: 8·64·4 + 8·4 + 8·4 + 3·16 + 4 bytes) for standard, PGD-AT and Gaussian
    // noise; TRADES adds its host-drawn start noise (8·64·4 B), TLA its pool images, pool labels and positives
    // (8·64·4 + 8·4 + 8·64·4 B), drawn on the host as before and uploaded before the replay instead of inside the step.
    public static readonly StepBudget ReplayedTrainStepEmulator = new(Launches: 2, Syncs: 0, DeviceToHostBytes: 0,
        HostToDeviceBytes: 2164, Allocations: 0);

    public static readonly StepBudget ReplayedTradesStepEmulator = ReplayedTrainStepEmulator with
    {
        HostToDeviceBytes = 2164 + 2048,
    };

    public static readonly StepBudget ReplayedTlaStepEmulator = ReplayedTrainStepEmulator with
    {
        HostToDeviceBytes = 2164 + 2048 + 32 + 2048,
    };

    /// <summary>Uploads before a replayed step of <paramref name="objective"/> (see the budgets above).</summary>
    public static int ReplayedTrainStepUploads(string objective) => objective switch
    {
        "trades" => 8,
        "tla" => 10,
        _ => 7,
    };

    public static StepBudget ReplayedTrainStep(string objective) => objective switch
    {
        "trades" => ReplayedTradesStepEmulator,
        "tla" => ReplayedTlaStepEmulator,
        _ => ReplayedTrainStepEmulator,
    };

    public static StepBudget Ops(BudgetStep step) => step switch
    {
        BudgetStep.SquareQuery => SquareQueryOps,
        BudgetStep.Pgd10Step => Pgd10StepOps,
        BudgetStep.PgdAtStep => PgdAtStepOps,
        BudgetStep.TlaStep => TlaStepOps,
        _ => throw new ArgumentOutOfRangeException(nameof(step)),
    };

    public static StepBudget Emulator(BudgetStep step) => step switch
    {
        BudgetStep.SquareQuery => SquareQueryEmulator,
        BudgetStep.Pgd10Step => Pgd10StepEmulator,
        BudgetStep.PgdAtStep => PgdAtStepEmulator,
        BudgetStep.TlaStep => TlaStepEmulator,
        _ => throw new ArgumentOutOfRangeException(nameof(step)),
    };
}
