using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

/// <summary>
/// PGD, APGD and FAB-T steps as CUDA graphs on the emulator (one StepGraph per run: PGD's steps 1..Steps−1 as one
/// graph, APGD's iterations as one graph per kernel-argument key, FAB-T's iterations as one graph): with graphs on, a
/// run equals the same run with graphs off bit for bit; the
/// graph is captured once and replayed for every later step, and a replayed step issues no kernel launch, copy,
/// synchronization or allocation from the host (EmulatorCount.HostKernelLaunches: launches not run by a replay).
/// A step whose capture is refused falls back to eager execution with the same result. The model is a narrow
/// ResNet-18 (cuDNN convolutions, eval-mode batch norm from its cache, GEMM), N = 6 samples of 3×8×8.
/// </summary>
[Category("Gpu")]
[Category("Emulator")]
public class AttackGraphTests : EmulatorGraphFixture
{
    private const int N = 6, D = 3 * 8 * 8;

    private static IEnumerable<TestCaseData> Attacks()
    {
        yield return Case(new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 6, Seed: 3))
            { EarlyStopEvery = 100 }, "pgd-linf");
        yield return Case(new Pgd(new PgdSettings(PgdNorm.L2, 0.3f, 0.1f, Steps: 6, Restarts: 2,
            Loss: AttackLossKind.CW, Targeted: true, Seed: 3)) { EarlyStopEvery = 100 }, "pgd-l2-cw-targeted");
        yield return Case(new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 6, KeepHighestLoss: true, Seed: 3,
            KeepTrainingMode: true)), "pgd-at-training-mode");
        yield return Case(new Apgd(new ApgdSettings(PgdNorm.Linf, 0.03f, Steps: 10, Seed: 3)) { EarlyStopEvery = 100 },
            "apgd-ce");
        yield return Case(new Apgd(new ApgdSettings(PgdNorm.L2, 0.3f, Steps: 25, Loss: AttackLossKind.TargetedDlr,
            TargetClasses: 2, Seed: 3)) { EarlyStopEvery = 100 }, "apgd-t");
        yield return Case(new Fab(new FabSettings(PgdNorm.Linf, 0.03f, Steps: 6, Restarts: 2, TargetClasses: 1,
            Seed: 3)), "fab-t-linf");
        yield return Case(new Fab(new FabSettings(PgdNorm.L2, 0.5f, Steps: 5, TargetClasses: 2, Seed: 3)), "fab-t-l2");
        static TestCaseData Case(IAttack a, string name) => new TestCaseData(a, name).SetArgDisplayNames(name);
    }

    [TestCaseSource(nameof(Attacks))]
    public void Attack_GraphsOn_EqualsGraphsOffBitForBit_AndReplaysWithoutHostLaunches(IAttack attack, string name)
    {
        using var model = NarrowResNet(5);
        var off = Run(model, attack, graphs: false, out var offSteps, out _);
        var on = Run(model, attack, graphs: true, out var steps, out int runs);
        Assert.That(on.Adv, Is.EqualTo(off.Adv), $"{name}: adversarial examples");
        Assert.That(on.Success, Is.EqualTo(off.Success), $"{name}: success flags");
        Assert.That(on.Loss, Is.EqualTo(off.Loss), $"{name}: losses");
        Assert.That(on.Buffers, Is.EqualTo(off.Buffers), $"{name}: batch-norm statistics after the run");
        Assert.That(offSteps.Sum(s => s.Count.GraphLaunches), Is.Zero, "graphs off: every step eager");

        // Each step that goes through the graph has a key; per key the first call runs eagerly, the second is captured
        // (and launched), later ones are replays.
        var calls = new Dictionary<int, int>();
        var role = new Dictionary<int, int>();  // step → 1-based call number of its key
        foreach (var (step, key) in GraphKeys(attack)) role[step] = calls[key] = calls.GetValueOrDefault(key) + 1;
        int captures = calls.Values.Count(c => c >= 2), replays = calls.Values.Sum(c => Math.Max(c - 2, 0));
        Assert.That(replays, Is.GreaterThanOrEqualTo(3), "the case replays a graph");
        foreach (var (index, count) in steps)
            Assert.That(count.GraphLaunches, Is.EqualTo(role.GetValueOrDefault(index) >= 2 ? 1 : 0),
                $"{name}: graph launches of step {index} (call {role.GetValueOrDefault(index)} of its key)");
        var replayed = steps.Where(s => role.GetValueOrDefault(s.Index) >= 3).Select(s => s.Count).ToList();
        Assert.That(replayed, Has.Count.EqualTo(runs * replays));
        long graphLaunches = steps.Sum(s => s.Count.GraphLaunches);
        Assert.That(graphLaunches, Is.EqualTo(runs * (captures + replays)), "captures and replays");
        if (attack is Pgd p) Assert.That(graphLaunches, Is.GreaterThanOrEqualTo(runs * (p.Config.Steps - 2)));
        foreach (var count in replayed)
        {
            Assert.That(count.HostKernelLaunches, Is.Zero, $"{name}: kernels launched by the host in a replayed step");
            Assert.That(count.KernelLaunches, Is.GreaterThan(0), $"{name}: the replay runs the step's kernels");
            Assert.That(
                (count.Syncs, count.HostToDeviceCopies, count.DeviceToHostCopies, count.Allocations, count.Frees),
                Is.EqualTo((0L, 0L, 0L, 0L, 0L)), $"{name}: syncs, copies, allocations and frees in a replayed step");
        }
        var eager = steps.Where(s => role.GetValueOrDefault(s.Index) == 1).Select(s => s.Count).ToList();
        string eagerText = eager.Count == 0 ? "" : $"eager step {eager[0].KernelLaunches} kernel launches, " +
            $"{eager[0].LibraryCalls} library calls, {eager[0].Allocations} allocations; ";
        var first = replayed[0];
        TestContext.Out.WriteLine($"{name}: {eagerText}replayed step " +
            $"{first.GraphLaunches} graph launch, {first.HostKernelLaunches} host kernel launches, " +
            $"{first.GraphKernelLaunches} replayed kernels, {first.LibraryCalls} library calls, " +
            $"{first.Allocations} allocations, {first.ContextQueries} context queries");
    }

    /// <summary>A model that reads its logits to the host in every forward pass: its steps cannot be captured, so the
    /// run reports the refusal once (on standard error) and runs eagerly, with the result of a run without graphs.
    /// </summary>
    [Test]
    [NonParallelizable]  // swaps Console.Error
    public void Pgd_CaptureRefused_FallsBackToEagerWithTheSameResult()
    {
        using var model = new ReadingClassifier(NarrowResNet(5));
        var attack = new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 5, Seed: 3)) { EarlyStopEvery = 100 };
        var off = Run(model, attack, graphs: false, out _, out _);
        var error = Console.Error;
        using var reported = new StringWriter();
        Console.SetError(reported);
        (float[] Adv, bool[] Success, float[] Loss, float[][] Buffers) on;
        List<Step> steps;
        try
        {
            on = Run(model, attack, graphs: true, out steps, out _);
        }
        finally
        {
            Console.SetError(error);
        }
        Assert.That(on.Adv, Is.EqualTo(off.Adv));
        Assert.That(on.Success, Is.EqualTo(off.Success));
        Assert.That(on.Loss, Is.EqualTo(off.Loss));
        var lines = reported.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), "the refusal is reported once");
        Assert.That(lines[0], Does.StartWith("PGD step: no graph for shape").And.Contain("CopyToHost"));
        Assert.That(steps.Sum(s => s.Count.GraphLaunches), Is.Zero);
    }

    /// <summary>The steps of a run that go through its StepGraph, with their keys: PGD's steps 1..Steps−1 (one key) and
    /// its last step (no gradient: a key of its own);
    /// APGD's iterations, the first on its own, the others keyed by the window of the checkpoint they end (0: none);
    /// FAB-T's iterations 0..Steps−1 (one key).</summary>
    private static List<(int Step, int Key)> GraphKeys(IAttack attack)
    {
        if (attack is Pgd pgd)
            return Enumerable.Range(1, pgd.Config.Steps).Select(s => (s, s < pgd.Config.Steps ? 0 : 1)).ToList();
        if (attack is Fab fab) return Enumerable.Range(0, fab.Config.Steps).Select(s => (s, 0)).ToList();
        int steps = ((Apgd)attack).Config.Steps, window = ApgdSchedule.FirstWindow(steps), counter = 0;
        var keys = new List<(int, int)>();
        for (int it = 0; it < steps; it++)
        {
            bool checkpoint = ++counter == window;
            keys.Add((it, it == 0 ? -1 : checkpoint ? window : 0));
            if (!checkpoint) continue;
            window = ApgdSchedule.NextWindow(window, steps);
            counter = 0;
        }
        return keys;
    }

    private (float[] Adv, bool[] Success, float[] Loss, float[][] Buffers) Run(Classifier model, IAttack attack,
        bool graphs, out List<Step> steps, out int runs)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Uniform(N * D, 0f, 1f);
        int[] y = Enumerable.Range(0, N).Select(i => i % 10).ToArray();
        int[] t = y.Select(v => (v + 3) % 10).ToArray();
        // Training-mode runs write the running statistics: every run starts from the same ones.
        var buffers = model.NamedBuffers().Select(b => b.Buffer.ToArray()).ToArray();
        var progress = new StepCounts(attack);
        try
        {
            (steps, runs) = (progress.Steps, 0);
            var result = WithGraphs(graphs, () =>
            {
                using var tx = Tensor.FromArray(Gpu, x, N, 3, 8, 8);
                using var ty = Tensor.FromArray(Gpu, y, N);
                using var tt = Tensor.FromArray(Gpu, t, N);
                using var r = attack.Run(model, tx, ty, 0u, attack.NeedsTargets ? tt : null, progress);
                var after = model.NamedBuffers().Select(b => b.Buffer.ToArray()).ToArray();
                return (r.Adversarial.ToArray(), r.Success, r.Loss, after);
            });
            runs = progress.Runs;
            return result;
        }
        finally
        {
            foreach (var (b, v) in model.NamedBuffers().Select(b => b.Buffer).Zip(buffers))
                Gpu.CopyIn<float>(b.Storage, v);
        }
    }

    /// <summary>The emulator's counts over step <paramref name="Index"/> of a run (PGD's step s, APGD's iteration it),
    /// from the report before it to the report after it.</summary>
    internal readonly record struct Step(int Index, EmulatorCount Count);

    /// <summary>Reads the emulator's totals at each progress report (the emulator runs work as it is issued, so
    /// the difference between two reports is the step between them); a run's first report starts it afresh.</summary>
    private sealed class StepCounts(IAttack attack) : IProgress<AttackProgress>
    {
        private EmulatorCount? _last;
        public List<Step> Steps { get; } = [];
        public int Runs { get; private set; }

        public void Report(AttackProgress value)
        {
            var now = EmulatorCounters.Total;
            // PGD reports step s after it; APGD and FAB report iteration it as done + it + 1, counting on over runs.
            int index = attack switch
            {
                Pgd => value.Done,
                Apgd a => (value.Done - 1) % a.Config.Steps,
                _ => (value.Done - 1) % ((Fab)attack).Config.Steps,
            };
            if (index == 0) Runs++;
            else if (_last is { } last) Steps.Add(new Step(index, Minus(now, last)));
            _last = now;
        }
    }

    /// <summary>Reads its logits to the host in every forward pass (a device→host copy no graph may hold).</summary>
    private sealed class ReadingClassifier : Classifier
    {
        private readonly Classifier _inner;

        public ReadingClassifier(Classifier inner) => _inner = RegisterModule("inner", inner);

        public override int Classes => _inner.Classes;
        public override int EmbeddingDim => _inner.EmbeddingDim;
        public override int[] InputShape => _inner.InputShape;
        public float LastLogit { get; private set; }

        public override ModelOutput Forward(Tape tape, Variable x)
        {
            var output = _inner.Forward(tape, x);
            LastLogit = output.Logits.Value.ToArray()[0];
            return output;
        }
    }
}
