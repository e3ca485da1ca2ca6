using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu.Diagnostics;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// Early stopping reads a run's all-fooled flag every EarlyStopEvery steps. Once every sample has succeeded the Best
// rule takes nothing more, so the steps run past that point change nothing: results are bit-identical for any k.
// Shape letters: N = 16 samples of 3×8×8 pixels, K = 10 classes.
public class AttackEarlyStopTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        static IAttack Pgd(int k) =>
            new Pgd(new PgdSettings(PgdNorm.Linf, 0.2f, 0.05f, Steps: 12, Restarts: 2, Seed: 3)) { EarlyStopEvery = k };
        static IAttack PgdL2(int k) =>
            new Pgd(new PgdSettings(PgdNorm.L2, 3f, 0.5f, Steps: 12, Seed: 3)) { EarlyStopEvery = k };
        static IAttack Apgd(int k) =>
            new Apgd(new ApgdSettings(PgdNorm.Linf, 0.2f, Steps: 20, Restarts: 2, Seed: 3)) { EarlyStopEvery = k };
        static IAttack ApgdT(int k) => new Apgd(new ApgdSettings(PgdNorm.L2, 3f, Steps: 20,
            Loss: AttackLossKind.TargetedDlr, TargetClasses: 2, Seed: 3)) { EarlyStopEvery = k };
        yield return new TestCaseData((Func<int, IAttack>)Pgd).SetArgDisplayNames("pgd-linf");
        yield return new TestCaseData((Func<int, IAttack>)PgdL2).SetArgDisplayNames("pgd-l2");
        yield return new TestCaseData((Func<int, IAttack>)Apgd).SetArgDisplayNames("apgd-ce");
        yield return new TestCaseData((Func<int, IAttack>)ApgdT).SetArgDisplayNames("apgd-t");
    }

    [TestCaseSource(nameof(Cases))]
    public void EarlyStopEvery_OneAndFive_GiveIdenticalResults(Func<int, IAttack> create)
    {
        const int n = 16;
        var cpu = Backends.Cpu;
        var (model, x, y) = AttackTestData.Mlp(cpu, new SeededRandom(TestContext.CurrentContext.Test.FullName), n);
        using (model)
        {
            using var tx = Tensor.FromArray(cpu, x, n, 3, 8, 8);
            using var ty = Tensor.FromArray(cpu, y, n);
            (string Hash, int Steps, int Fooled) Run(int k)
            {
                var steps = new CountingProgress();
                using var result = create(k).Run(model, tx, ty, 0u, null, steps);
                return (AttackGoldenTests.Hash(result), steps.Count, result.SuccessCount);
            }
            var every = Run(1);
            var fifth = Run(5);
            Assert.That(every.Fooled, Is.EqualTo(n), "eps is large enough to fool every sample");
            Assert.That(every.Steps, Is.LessThan(fifth.Steps), "k = 1 stops earlier, so the comparison means something");
            Assert.That(fifth.Hash, Is.EqualTo(every.Hash));
        }
    }

    /// <summary>Counts progress reports synchronously (Progress&lt;T&gt; would post them to a thread pool).</summary>
    private sealed class CountingProgress : IProgress<AttackProgress>
    {
        public int Count { get; private set; }
        public void Report(AttackProgress value) => Count++;
    }
}

// The CPU backend runs the same attack code: inside the steps of PGD and APGD nothing is copied to or from the host,
// counted by a wrapper backend between consecutive progress reports of a run (EarlyStopEvery above the step count).
public class AttackCpuTrafficTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData(new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 5, Restarts: 2,
            Seed: 1)) { EarlyStopEvery = 100 }, 5).SetArgDisplayNames("pgd-linf");
        yield return new TestCaseData(new Pgd(new PgdSettings(PgdNorm.L2, 0.3f, 0.1f, Steps: 5, Loss: AttackLossKind.CW,
            Targeted: true, Seed: 1)) { EarlyStopEvery = 100 }, 5).SetArgDisplayNames("pgd-l2-cw-targeted");
        yield return new TestCaseData(new Apgd(new ApgdSettings(PgdNorm.L2, 0.3f, Steps: 10, Loss: AttackLossKind.Dlr,
            Seed: 1)) { EarlyStopEvery = 100 }, 10).SetArgDisplayNames("apgd-dlr");
        yield return new TestCaseData(new Apgd(new ApgdSettings(PgdNorm.Linf, 0.03f, Steps: 10, Restarts: 2,
            Seed: 1)) { EarlyStopEvery = 100 }, 10).SetArgDisplayNames("apgd-ce");
    }

    [TestCaseSource(nameof(Cases))]
    public void AttackSteps_OnCpu_CopyNothingToOrFromTheHost(IAttack attack, int steps)
    {
        const int n = 24;
        var backend = new CountingBackend(Backends.Cpu);
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Uniform(n * 192, 0f, 1f);
        using var model = new Mlp(backend, new SeededRandom("traffic-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var tx = Tensor.FromArray(backend, x, n, 3, 8, 8);
        int[] y = AttackData.Predict(model, tx);
        using var ty = Tensor.FromArray(backend, y, n);
        using var tt = Tensor.FromArray(backend, y.Select(v => (v + 1) % 10).ToArray(), n);
        var traffic = new StepTraffic(backend, attack is Apgd ? p => p.Done % steps == 0 : p => p.Done == p.Total);
        using (attack.Run(model, tx, ty, 0u, attack.NeedsTargets ? tt : null, traffic)) { }
        TestContext.Out.WriteLine($"{attack.Name}: {traffic.Steps} steps, {traffic.Allocations} backend allocations");
        Assert.That(traffic.Steps, Is.GreaterThan(0));
        Assert.That((traffic.CopyIns, traffic.CopyOuts, traffic.Syncs), Is.EqualTo((0L, 0L, 0L)),
            $"uploads, reads and synchronizations inside {traffic.Steps} steps");
    }

    /// <summary>Sums the wrapper's counts between consecutive progress reports of one run.</summary>
    private sealed class StepTraffic(CountingBackend b, Func<AttackProgress, bool> lastOfRun) : IProgress<AttackProgress>
    {
        private BackendCounts? _at;
        public int Steps { get; private set; }
        public long CopyIns { get; private set; }
        public long CopyOuts { get; private set; }
        public long Syncs { get; private set; }
        public long Allocations { get; private set; }

        public void Report(AttackProgress value)
        {
            var now = b.Snapshot();
            if (_at is { } at)
            {
                var step = now - at;
                Steps++;
                CopyIns += step.HostToDeviceCopies;
                CopyOuts += step.DeviceToHostCopies;
                Syncs += step.Syncs;
                Allocations += step.Allocations;
            }
            _at = lastOfRun(value) ? null : now;
        }
    }
}
