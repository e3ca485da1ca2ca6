using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Core.Nn;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// PGD, FGSM and APGD with their bookkeeping on the device (kernels/attack.cu), on the CUDA backend (the emulator here):
// results close to the CPU's, and the emulator's counters prove that no step synchronizes or copies to the host.
// Steps are delimited by the attacks' own progress reports, which come after each step's bookkeeping; every test sets
// EarlyStopEvery above the step count, so the every-k flag read (the one read a run may make) falls outside them.
// Shape letters: N samples of 3×8×8 pixels, K = 10 classes.
[Category("Gpu")]
public class AttackDeviceTests
{
    private const int N = 32;
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static IEnumerable<TestCaseData> Smooth()
    {
        IAttack[] attacks =
        [
            new Pgd(new PgdSettings(PgdNorm.L2, 0.4f, 0.1f, Steps: 6, Restarts: 2, Seed: 1)),
            new Pgd(new PgdSettings(PgdNorm.L2, 0.4f, 0.1f, Steps: 6, Loss: AttackLossKind.CW, Targeted: true, Seed: 1)),
            new Apgd(new ApgdSettings(PgdNorm.L2, 0.4f, Steps: 12, Seed: 1)),
            new Apgd(new ApgdSettings(PgdNorm.L2, 0.4f, Steps: 12, Loss: AttackLossKind.Dlr, Seed: 1)),
            new Fgsm(new FgsmSettings(0.15f, PgdNorm.L2)),
        ];
        return attacks.Select(a => new TestCaseData(a).SetArgDisplayNames($"{a.Name}-{a.Norm}"));
    }

    // L2 steps have no sign(), so float differences between the backends stay small along the whole trajectory.
    [TestCaseSource(nameof(Smooth))]
    public void Attack_OnCuda_MatchesCpuPerSample(IAttack attack)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Uniform(N * 192, 0f, 1f);
        using var cpuModel = new Mlp(Backends.Cpu, new SeededRandom("device-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var gpuModel = new Mlp(_gpu, new SeededRandom("device-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var cx = Tensor.FromArray(Backends.Cpu, x, N, 3, 8, 8);
        int[] y = AttackData.Predict(cpuModel, cx);
        int[] t = y.Select(v => (v + 1) % 10).ToArray();
        (float[] Adv, bool[] Success, float[] Loss) Run(IBackend b, Classifier model)
        {
            using var tx = Tensor.FromArray(b, x, N, 3, 8, 8);
            using var ty = Tensor.FromArray(b, y, N);
            using var tt = Tensor.FromArray(b, t, N);
            using var r = attack.Run(model, tx, ty, 0u, attack.NeedsTargets ? tt : null);
            return (r.Adversarial.ToArray(), r.Success, r.Loss);
        }
        var cpu = Run(Backends.Cpu, cpuModel);
        var gpu = Run(_gpu, gpuModel);
        Assert.That(cpu.Success.Count(s => s), Is.InRange(1, N - 1), "a mix of fooled and robust points");
        int differ = cpu.Success.Zip(gpu.Success).Count(p => p.First != p.Second);
        Assert.That(differ, Is.LessThanOrEqualTo(1), "success flags (a borderline point may flip)");
        for (int i = 0; i < N; i++)
        {
            if (cpu.Success[i] != gpu.Success[i]) continue;
            AssertClose.All(AttackData.Row(cpu.Adv, i, 192), AttackData.Row(gpu.Adv, i, 192), 2e-3, 0, $"sample {i}");
            Assert.That(gpu.Loss[i], Is.EqualTo(cpu.Loss[i]).Within(2e-3).Percent.Or.EqualTo(cpu.Loss[i]).Within(1e-4),
                $"loss of sample {i}");
        }
    }

    private static IEnumerable<TestCaseData> Budgeted()
    {
        // Budgets per step, measured on this 2-layer MLP (forward, backward and the attack's own kernels), so that a
        // regression fails: kernel launches, and allocations (the tape's, until the backend pools them).
        yield return Case(new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 5, Seed: 1))
            { EarlyStopEvery = 100 }, "pgd-linf", 12, 15);
        yield return Case(new Pgd(new PgdSettings(PgdNorm.L2, 0.3f, 0.1f, Steps: 5, Restarts: 2,
            Loss: AttackLossKind.CW, Targeted: true, Seed: 1)) { EarlyStopEvery = 100 }, "pgd-l2-cw-targeted", 16, 16);
        yield return Case(new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 5, Restarts: 2,
            KeepHighestLoss: true, Seed: 1)), "pgd-keep-highest", 12, 15);
        yield return Case(new Apgd(new ApgdSettings(PgdNorm.Linf, 0.03f, Steps: 10, Seed: 1)) { EarlyStopEvery = 100 },
            "apgd-ce", 14, 17);
        yield return Case(new Apgd(new ApgdSettings(PgdNorm.L2, 0.3f, Steps: 10, Loss: AttackLossKind.Dlr, Seed: 1))
            { EarlyStopEvery = 100 }, "apgd-dlr", 14, 16);
        yield return Case(new Apgd(new ApgdSettings(PgdNorm.Linf, 0.03f, Steps: 10, Loss: AttackLossKind.TargetedDlr,
            TargetClasses: 2, Seed: 1)) { EarlyStopEvery = 100 }, "apgd-t", 14, 16);
        static TestCaseData Case(IAttack a, string name, int launches, int allocations) =>
            new TestCaseData(a, name, launches, allocations).SetArgDisplayNames(name);
    }

    [TestCaseSource(nameof(Budgeted))]
    public void AttackSteps_OnEmulator_NeitherSynchronizeNorCopyToHost(IAttack attack, string name, int launches,
        int allocations)
    {
        if (!NativeLibraries.EmulatorSelected) Assert.Ignore("needs the CUDA emulator's counters");
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Uniform(N * 192, 0f, 1f);
        using var model = new Mlp(_gpu, new SeededRandom("device-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var tx = Tensor.FromArray(_gpu, x, N, 3, 8, 8);
        int[] y = AttackData.Predict(model, tx);
        using var ty = Tensor.FromArray(_gpu, y, N);
        using var tt = Tensor.FromArray(_gpu, y.Select(v => (v + 1) % 10).ToArray(), N);
        string region = $"attack-step-{name}-{Guid.NewGuid():N}";
        // A run's last report: PGD reports step s of Steps per run, APGD counts on over runs of Steps iterations.
        Func<AttackProgress, bool> lastOfRun = attack is Apgd apgd
            ? p => p.Done % apgd.Config.Steps == 0
            : p => p.Done == p.Total;
        var steps = new StepRegions(region, lastOfRun);
        using (var result = attack.Run(model, tx, ty, 0u, attack.NeedsTargets ? tt : null, steps))
            steps.Close();
        var c = EmulatorCounters.Read(region);
        TestContext.Out.WriteLine($"{name}: {steps.Count} steps; per step {c.KernelLaunches / (double)steps.Count:F1} " +
            $"launches, {c.LibraryCalls / (double)steps.Count:F1} library calls, " +
            $"{c.Allocations / (double)steps.Count:F1} allocations, {c.Memsets / (double)steps.Count:F1} memsets, " +
            $"{c.HostToDeviceBytes} B host→device");
        Assert.That(steps.Count, Is.GreaterThan(0));
        Assert.That((c.Syncs, c.DeviceToHostCopies, c.DeviceToHostBytes), Is.EqualTo((0L, 0L, 0L)),
            $"{name}: synchronizations, device→host copies and bytes inside {steps.Count} steps");
        Assert.That((c.HostToDeviceCopies, c.HostToDeviceBytes), Is.EqualTo((0L, 0L)), $"{name}: uploads inside steps");
        Assert.That(c.KernelLaunches, Is.LessThanOrEqualTo((long)launches * steps.Count), $"{name}: launch budget");
        Assert.That(c.Allocations, Is.LessThanOrEqualTo((long)allocations * steps.Count), $"{name}: allocation budget");
    }

    // FGSM is one step: the gradient pass and the step; its only reads are the end's 8 bytes per sample.
    [Test]
    public void Fgsm_OnEmulator_ReadsOnlyTheResultAtTheEnd()
    {
        if (!NativeLibraries.EmulatorSelected) Assert.Ignore("needs the CUDA emulator's counters");
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Uniform(N * 192, 0f, 1f);
        using var model = new Mlp(_gpu, new SeededRandom("device-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var tx = Tensor.FromArray(_gpu, x, N, 3, 8, 8);
        using var ty = Tensor.FromArray(_gpu, AttackData.Predict(model, tx), N);
        string region = $"fgsm-{Guid.NewGuid():N}";
        using (EmulatorCounters.Region(region))
        using (new Fgsm(new FgsmSettings(0.03f)).Run(model, tx, ty, 0u)) { }
        var c = EmulatorCounters.Read(region);
        TestContext.Out.WriteLine($"fgsm: {c.KernelLaunches} launches, {c.Allocations} allocations, {c.Syncs} syncs");
        Assert.That((c.DeviceToHostCopies, c.DeviceToHostBytes), Is.EqualTo((2L, 8L * N)),
            "one read of the losses and one of the success flags");
        Assert.That((c.HostToDeviceCopies, c.HostToDeviceBytes), Is.EqualTo((0L, 0L)));
    }

    /// <summary>Opens the region at each progress report and closes it at the next, so it spans the step between
    /// them; from a run's last report to the next run's first (the restart boundary, its reads and its random start)
    /// no region is open.</summary>
    private sealed class StepRegions(string name, Func<AttackProgress, bool> lastOfRun) : IProgress<AttackProgress>
    {
        private IDisposable? _open;
        public int Count { get; private set; }

        public void Report(AttackProgress value)
        {
            if (_open is not null)
            {
                _open.Dispose();
                Count++;
            }
            _open = lastOfRun(value) ? null : EmulatorCounters.Region(name);
        }

        public void Close()
        {
            _open?.Dispose();
            _open = null;
        }
    }
}
