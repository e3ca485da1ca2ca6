using AdvRobust.Core;
using AdvRobust.Core.Diagnostics;
using AdvRobust.Cpu.Diagnostics;

namespace AdvRobust.Tests.Budgets;

/// <summary>One measured step: the counting wrapper's view (per op) and, on the CUDA emulator, the emulator's.
/// </summary>
public sealed record StepMeasurement(BackendCounts Ops, StepCounts? Emulator);

/// <summary>Runs a warm-up step (kernel compilation, cuDNN algorithm search, pools filling up), then measures the next
/// steps one by one, and prints each step's counts to the test output.</summary>
public static class StepMeter
{
    public const int MeasuredSteps = 2;

    public static List<StepMeasurement> Measure(BudgetStep kind, IBackend inner, IStepCounter? emulator)
    {
        var counting = new CountingBackend(inner);
        using var workload = new BudgetWorkload(counting);
        workload.Run(kind);
        counting.Synchronize();
        var steps = new List<StepMeasurement>();
        for (int i = 0; i < MeasuredSteps; i++)
        {
            var emulatorBefore = emulator?.Read();
            using (var region = counting.Region())
            {
                workload.Run(kind);
                region.Dispose();
                steps.Add(new StepMeasurement(region.Counts, emulator?.Read() - emulatorBefore));
            }
            TestContext.Out.WriteLine($"{kind} on {inner.Name}, step {i + 2} (after the warm-up step):");
            TestContext.Out.WriteLine($"  counting backend: {steps[^1].Ops}");
            if (steps[^1].Emulator is { } e) TestContext.Out.WriteLine($"  emulator:         {e}");
        }
        return steps;
    }
}
