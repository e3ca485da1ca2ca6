using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Diagnostics;
using AdvRobust.Cpu.Diagnostics;

namespace AdvRobust.Tests.Budgets;

/// <summary>One measured step: the counting wrapper's view (per op) and, on the CUDA emulator, the emulator's.
/// </summary>
public sealed record StepMeasurement(BackendCounts Ops, StepCounts? Emulator);

/// <summary>
/// Measures steps one by one after a warm-up (kernel compilation, cuDNN algorithm search, pools filling up) and
/// prints each step's counts to the test output. PGD-10: a warm-up attack, then every full step of the next attack,
/// delimited by the attack's progress reports (report s−1 to report s, s = 1..9: the update, then the forward and
/// backward pass and the bookkeeping at the new point; step 10 is a forward pass alone, and the restart boundary
/// before report 0 and after report 10 is outside every step). Training: <see cref="BudgetWorkload.StatsEvery"/>
/// warm-up steps (the last one reads the statistics), then the next steps that do not read.
/// </summary>
public static class StepMeter
{
    public const int MeasuredTrainingSteps = 2;

    public static List<StepMeasurement> Measure(BudgetStep kind, IBackend inner, IStepCounter? emulator)
    {
        var counting = new CountingBackend(inner);
        using var workload = new BudgetWorkload(counting);
        var steps = kind switch
        {
            BudgetStep.Pgd10Step => MeasureAttackSteps(workload, counting, emulator),
            BudgetStep.SquareQuery => MeasureSquareQueries(workload, counting, emulator),
            _ => MeasureTrainingSteps(kind, workload, counting, emulator),
        };
        for (int i = 0; i < steps.Count; i++)
        {
            TestContext.Out.WriteLine($"{kind} on {inner.Name}, measured step {i + 1}:");
            TestContext.Out.WriteLine($"  counting backend: {steps[i].Ops}");
            if (steps[i].Emulator is { } e) TestContext.Out.WriteLine($"  emulator:         {e}");
        }
        return steps;
    }

    private static List<StepMeasurement> MeasureAttackSteps(BudgetWorkload workload, CountingBackend counting,
        IStepCounter? emulator)
    {
        workload.Attack();
        counting.Synchronize();
        var reports = new List<(int Done, BackendCounts Ops, StepCounts? Emulator)>();
        workload.Attack(progress: new Inline(p => reports.Add((p.Done, counting.Snapshot(), emulator?.Read()))));
        Assert.That(reports.Select(r => r.Done), Is.EqualTo(Enumerable.Range(0, 11)), "PGD-10 reports steps 0..10");
        // Steps 1..9; step 10 (a forward pass without the backward) is left out.
        return Enumerable.Range(1, 9).Select(s => new StepMeasurement(reports[s].Ops - reports[s - 1].Ops,
            reports[s].Emulator - reports[s - 1].Emulator)).ToList();
    }

    /// <summary>Square: a warm-up attack, then queries 1 … Q − 1 of the next (query i lies between reports i and
    /// i + 1; query 0 also holds the early-stop read).</summary>
    private static List<StepMeasurement> MeasureSquareQueries(BudgetWorkload workload, CountingBackend counting,
        IStepCounter? emulator)
    {
        workload.Square();
        counting.Synchronize();
        var reports = new List<(int Done, BackendCounts Ops, StepCounts? Emulator)>();
        workload.Square(new Inline(p => reports.Add((p.Done, counting.Snapshot(), emulator?.Read()))));
        int q = BudgetWorkload.SquareQueries;
        Assert.That(reports.Select(r => r.Done), Is.EqualTo(Enumerable.Range(1, q)), "Square reports every query");
        return Enumerable.Range(1, q - 1).Select(i => new StepMeasurement(reports[i].Ops - reports[i - 1].Ops,
            reports[i].Emulator - reports[i - 1].Emulator)).ToList();
    }

    private static List<StepMeasurement> MeasureTrainingSteps(BudgetStep kind, BudgetWorkload workload,
        CountingBackend counting, IStepCounter? emulator)
    {
        for (int i = 0; i < BudgetWorkload.StatsEvery; i++) workload.Train(kind);
        counting.Synchronize();
        var steps = new List<StepMeasurement>();
        for (int i = 0; i < MeasuredTrainingSteps; i++)
        {
            var emulatorBefore = emulator?.Read();
            var before = counting.Snapshot();
            Assert.That(workload.Train(kind), Is.False, "a measured step must not read the statistics");
            steps.Add(new StepMeasurement(counting.Snapshot() - before, emulator?.Read() - emulatorBefore));
        }
        return steps;
    }

    /// <summary>Reports on the calling thread, at once (<see cref="Progress{T}"/> would post to a thread pool).</summary>
    private sealed class Inline(Action<AttackProgress> report) : IProgress<AttackProgress>
    {
        public void Report(AttackProgress value) => report(value);
    }
}
