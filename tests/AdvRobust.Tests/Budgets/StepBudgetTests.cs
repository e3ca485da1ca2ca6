using AdvRobust.Core.Diagnostics;
using AdvRobust.Cpu.Diagnostics;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Budgets;

// Per-step costs of ResNet-18 PGD-10, PGD-AT and TLA steps (issue 13), counted by the CountingBackend on the CPU and,
// in category Gpu, on the CUDA backend together with the emulator's own counters. Each test prints the measured counts
// of every step, checks that consecutive steps cost the same where StepBudgets.SameCostEveryStep says the cost does not
// depend on the data (a step that costs more each time leaks or grows), and holds every step to StepBudgets.
public class StepBudgetTests
{
    [TestCase(BudgetStep.Pgd10Attack)]
    [TestCase(BudgetStep.PgdAtStep)]
    [TestCase(BudgetStep.TlaStep)]
    public void OnCpu_StepCountsStayWithinBudget(BudgetStep step)
    {
        var steps = StepMeter.Measure(step, Backends.Cpu, emulator: null);
        AssertRepeatable(step, steps);
        foreach (var s in steps)
            StepBudgets.Ops(step).AssertWithin(s.Ops.Steps, $"{step} (counting backend on the CPU)");
    }

    internal static void AssertRepeatable(BudgetStep step, List<StepMeasurement> steps)
    {
        if (!StepBudgets.SameCostEveryStep(step)) return;
        for (int i = 1; i < steps.Count; i++)
        {
            Assert.That(steps[i].Ops.SameCounts(steps[0].Ops), Is.True,
                $"step {i + 2} cost differs from step 2:\n{steps[i].Ops}\nvs\n{steps[0].Ops}");
            Assert.That(steps[i].Emulator, Is.EqualTo(steps[0].Emulator), $"emulator counts of step {i + 2} vs step 2");
        }
    }
}

[Category("Gpu")]
public class StepBudgetGpuTests
{
    [TestCase(BudgetStep.Pgd10Attack)]
    [TestCase(BudgetStep.PgdAtStep)]
    [TestCase(BudgetStep.TlaStep)]
    public void OnCuda_StepCountsStayWithinBudget_AndTheWrapperSeesNoMoreThanTheDevice(BudgetStep step)
    {
        var gpu = Backends.CudaOrIgnore();
        var emulator = NativeLibraries.EmulatorSelected ? new EmulatorStepCounter() : null;
        var steps = StepMeter.Measure(step, gpu, emulator);
        StepBudgetTests.AssertRepeatable(step, steps);
        foreach (var s in steps) Check(step, s);
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
