using AdvRobust.Core;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Budgets;

// Per-step costs of ResNet-18 PGD-10 attack steps, PGD-AT and TLA training steps and Square queries (issue 13), counted by the
// CountingBackend on the CPU and, in category Gpu, on the CUDA backend (eager: graphs off) together with the emulator's
// own counters. Each test prints the measured counts of every step, checks that consecutive steps cost exactly the same
// (the bookkeeping lives on the device, so no count depends on the data; a step that costs more each time leaks or
// grows), and holds every step to StepBudgets.
public class StepBudgetTests
{
    [TestCase(BudgetStep.Pgd10Step)]
    [TestCase(BudgetStep.PgdAtStep)]
    [TestCase(BudgetStep.TlaStep)]
    [TestCase(BudgetStep.SquareQuery)]
    public void OnCpu_StepCountsStayWithinBudget(BudgetStep step)
    {
        var steps = StepMeter.Measure(step, Backends.Cpu, emulator: null);
        AssertRepeatable(steps);
        foreach (var s in steps)
            StepBudgets.Ops(step).AssertWithin(s.Ops.Steps, $"{step} (counting backend on the CPU)");
    }

    internal static void AssertRepeatable(List<StepMeasurement> steps)
    {
        Assert.That(steps, Has.Count.GreaterThanOrEqualTo(2));
        for (int i = 1; i < steps.Count; i++)
        {
            Assert.That(steps[i].Ops.SameCounts(steps[i - 1].Ops), Is.True,
                $"measured step {i + 1} costs other than step {i}:\n{steps[i].Ops}\nvs\n{steps[i - 1].Ops}");
            Assert.That(steps[i].Emulator, Is.EqualTo(steps[i - 1].Emulator),
                $"emulator counts of measured step {i + 1} vs step {i}");
        }
    }
}

[Category("Gpu")]
public class StepBudgetGpuTests
{
    [TestCase(BudgetStep.Pgd10Step)]
    [TestCase(BudgetStep.PgdAtStep)]
    [TestCase(BudgetStep.TlaStep)]
    [TestCase(BudgetStep.SquareQuery)]
    public void OnCuda_EagerStepCountsStayWithinBudget_AndTheWrapperSeesNoMoreThanTheDevice(BudgetStep step)
    {
        var gpu = Backends.CudaOrIgnore();
        var emulator = NativeLibraries.EmulatorSelected ? new EmulatorStepCounter() : null;
        // Eager steps: a replayed graph makes no IBackend call, so the wrapper would see none of its work.
        var graphs = ((CudaBackend)gpu).Graphs;
        bool wereOn = graphs.Enabled;
        graphs.Enabled = false;
        try
        {
            var steps = StepMeter.Measure(step, gpu, emulator);
            StepBudgetTests.AssertRepeatable(steps);
            foreach (var s in steps) Check(step, s);
        }
        finally
        {
            graphs.Enabled = wereOn;
        }
    }

    private static void Check(BudgetStep step, StepMeasurement measured)
    {
        var ops = measured.Ops.Steps;
        StepBudgets.Ops(step).AssertWithin(ops, $"{step} (counting backend on CUDA)");
        if (measured.Emulator is not { } device) return;
        // Every IBackend op enqueues at least one kernel, library call or memset; every CopyOut, CopyIn and
        // Synchronize reaches the device; so the wrapper can never see more than the emulator.
        Assert.Multiple(() =>
        {
            Assert.That(ops.Launches, Is.LessThanOrEqualTo(device.Launches), "launches");
            Assert.That(ops.Syncs, Is.LessThanOrEqualTo(device.Syncs), "syncs");
            Assert.That(ops.DeviceToHostBytes, Is.LessThanOrEqualTo(device.DeviceToHostBytes), "D2H bytes");
            Assert.That(ops.HostToDeviceBytes, Is.LessThanOrEqualTo(device.HostToDeviceBytes), "H2D bytes");
            Assert.That(ops.Allocations, Is.LessThanOrEqualTo(device.Allocations), "allocations");
        });
        StepBudgets.Emulator(step).AssertWithin(device, $"{step} (CUDA emulator)");
    }
}
