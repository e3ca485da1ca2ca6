using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

/// <summary>
/// FAB-T and Square with their steps on the device: the early-stop check every k queries gives the results of a
/// check every query, the CPU loops read nothing back, and on the CUDA backend the attacks match the CPU and (on the
/// emulator) make no synchronization and no device→host copy inside their iterations. Shape letters: N samples of
/// 3×8×8 pixels, K = 10 classes.
/// </summary>
public class FabSquareDeviceTests
{
    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    /// <summary>Runs an action at each progress report, synchronously (Progress&lt;T&gt; would post it).</summary>
    private sealed class OnReport(Action<AttackProgress> action) : IProgress<AttackProgress>
    {
        public void Report(AttackProgress value) => action(value);
    }

    [TestCase(PgdNorm.Linf, 0.3f)]
    [TestCase(PgdNorm.L2, 6f)]
    public void Square_StopCheckEveryFiveQueries_SameResultsAsEveryQuery(PgdNorm norm, float eps)
    {
        const int n = 16;
        var (model, x, y) = AttackTestData.Mlp(Backends.Cpu, Rng(), n);
        using var tx = Tensor.FromArray(Backends.Cpu, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(Backends.Cpu, y, n);
        AttackResult Run(int k, out int queries)
        {
            int last = 0;
            var r = new Square(new SquareSettings(eps, Queries: 400, Seed: 2, Norm: norm, StopCheckEvery: k))
                .Run(model, tx, ty, 0u, progress: new OnReport(p => last = p.Done));
            queries = last;
            return r;
        }
        using var every = Run(1, out int q1);
        using var fifth = Run(5, out int q5);
        Assert.That(q1, Is.LessThan(400), "every sample should be fooled before the budget ends (an early stop)");
        Assert.That(q5, Is.InRange(q1, q1 + 4), "the loop stops at the first check after the last sample is fooled");
        Assert.That(fifth.Adversarial.ToArray(), Is.EqualTo(every.Adversarial.ToArray()));
        Assert.That(fifth.Success, Is.EqualTo(every.Success));
        Assert.That(fifth.Loss, Is.EqualTo(every.Loss));
    }

    [TestCase(PgdNorm.Linf, 0.03f)]
    [TestCase(PgdNorm.L2, 0.5f)]
    public void Square_OnCpu_NoHostCopyInsideTheQueries(PgdNorm norm, float eps)
    {
        const int n = 12, queries = 40;
        var backend = new NoBackwardBackend();
        var (model, x, y) = AttackTestData.Mlp(backend, Rng(), n);
        using var tx = Tensor.FromArray(backend, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(backend, y, n);
        var copies = new List<int>();
        using var result = new Square(new SquareSettings(eps, Queries: queries, Seed: 3, Norm: norm,
                StopCheckEvery: queries + 1))
            .Run(model, tx, ty, 0u, progress: new OnReport(_ => copies.Add(backend.CopyOuts)));
        Assert.That(copies, Has.Count.EqualTo(queries), "some sample should survive every query");
        Assert.That(copies.Last() - copies.First(), Is.Zero, "host copies between the first and last query");
    }

    [TestCase(PgdNorm.Linf, 0.03f)]
    [TestCase(PgdNorm.L2, 0.3f)]
    public void Fab_OnCpu_NoHostCopyInsideTheSteps(PgdNorm norm, float eps)
    {
        const int n = 12, steps = 8;
        var backend = new Training.Objectives.TrackingBackend();
        var (model, x, y) = AttackTestData.Mlp(backend, Rng(), n);
        using var tx = Tensor.FromArray(backend, x, n, 3, 8, 8);
        using var ty = Tensor.FromArray(backend, y, n);
        var copies = new List<int>();
        using var result = new Fab(new FabSettings(norm, eps, Steps: steps, TargetClasses: 1, Seed: 3))
            .Run(model, tx, ty, 0u, progress: new OnReport(_ => copies.Add(backend.CopyOuts)));
        Assert.That(copies, Has.Count.EqualTo(steps));
        Assert.That(copies.Last() - copies.First(), Is.Zero, "host copies between the first and last step");
    }

    // ---- CUDA backend ----

    // Budgets per iteration measured on the emulator for this 2-layer MLP (a regression fails the test): Square = its
    // 2 ops + 3 forward kernels (bias, ReLU, bias) and 2 GEMMs; FAB-T = its 2 ops + forward, backward and prediction
    // pass (15 kernels) and 7 GEMMs.
    private static IEnumerable<TestCaseData> DeviceAttacks()
    {
        (IAttack Attack, int Launches, int LibraryCalls)[] attacks =
        [
            (new Square(new SquareSettings(0.03f, Queries: 60, Seed: 1, StopCheckEvery: 1000)), 5, 2),
            (new Square(new SquareSettings(0.5f, Queries: 60, Seed: 1, Norm: PgdNorm.L2, StopCheckEvery: 1000)), 5, 2),
            (new Fab(new FabSettings(PgdNorm.Linf, 0.03f, Steps: 8, TargetClasses: 1, Seed: 1)), 17, 7),
            (new Fab(new FabSettings(PgdNorm.L2, 0.5f, Steps: 8, TargetClasses: 1, Seed: 1)), 17, 7),
        ];
        return attacks.Select(a => new TestCaseData(a.Attack, a.Launches, a.LibraryCalls)
            .SetArgDisplayNames($"{a.Attack.Name}-{a.Attack.Norm}"));
    }

    [TestCaseSource(nameof(DeviceAttacks)), Category("Gpu")]
    public void Attack_OnCuda_MatchesCpuAndNeitherSyncsNorCopiesBackInsideItsIterations(IAttack attack,
        int launchesPerIteration, int libraryCallsPerIteration)
    {
        var gpu = Backends.CudaOrIgnore();
        const int n = 24;
        float[] x = Rng().Uniform(n * 192, 0f, 1f);
        using var cpuModel = new Mlp(Backends.Cpu, new SeededRandom("fabsquare-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var gpuModel = new Mlp(gpu, new SeededRandom("fabsquare-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var cx = Tensor.FromArray(Backends.Cpu, x, n, 3, 8, 8);
        int[] y = AttackData.Predict(cpuModel, cx);
        using var cy = Tensor.FromArray(Backends.Cpu, y, n);
        using var gx = Tensor.FromArray(gpu, x, n, 3, 8, 8);
        using var gy = Tensor.FromArray(gpu, y, n);

        // A region from the end of the first iteration to the end of the last covers every later iteration whole.
        bool counting = NativeLibraries.EmulatorSelected;
        string region = $"fabsquare-{attack.Name}-{attack.Norm}-{Guid.NewGuid():N}";
        IDisposable? open = null;
        int reports = 0, total = 0;
        var progress = new OnReport(p =>
        {
            reports++;
            total = p.Total;
            if (!counting) return;
            if (p.Done == 1) open = EmulatorCounters.Region(region);
            if (p.Done == p.Total) open?.Dispose();
        });
        using var onGpu = attack.Run(gpuModel, gx, gy, 0u, progress: progress);
        using var onCpu = attack.Run(cpuModel, cx, cy, 0u);

        AttackData.AssertInBallAndBox(onGpu.Adversarial, gx, attack.Norm, attack.Eps);
        Assert.That(onGpu.SuccessCount, Is.EqualTo(onCpu.SuccessCount).Within(n / 8),
            $"GPU fooled {onGpu.SuccessCount}, CPU {onCpu.SuccessCount}");
        Assert.That(onCpu.SuccessCount, Is.InRange(1, n - 1), "eps should fool some points, not all");
        Assert.That(reports, Is.EqualTo(total), "every iteration should run (no early stop)");
        if (!counting) return;
        var c = EmulatorCounters.Read(region);
        TestContext.Out.WriteLine($"{attack.Name} {attack.Norm}: {total - 1} iterations: {c}");
        Assert.That(c.Syncs, Is.Zero, "synchronizations inside the iterations");
        Assert.That(c.DeviceToHostCopies, Is.Zero, "device→host copies inside the iterations");
        Assert.That(c.DeviceToHostBytes, Is.Zero);
        Assert.That(c.HostToDeviceCopies, Is.Zero, "host→device copies inside the iterations");
        Assert.That(c.KernelLaunches, Is.LessThanOrEqualTo((long)launchesPerIteration * (total - 1)), "launch budget");
        Assert.That(c.LibraryCalls, Is.LessThanOrEqualTo((long)libraryCallsPerIteration * (total - 1)),
            "library call budget");
    }
}
