using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// Pgd.RunOnDevice, training's attack: the same adversarial batch as Run (bit for bit on the CPU), without reading
// anything back, and only for the single untargeted run it makes. Shape letters: N = 16 samples of 3×8×8, K = 10.
public class PgdRunOnDeviceTests
{
    [TestCase(PgdNorm.Linf, 0.03f, 0.01f, true)]
    [TestCase(PgdNorm.L2, 0.3f, 0.1f, false)]
    public void RunOnDevice_EqualsRunsAdversarialBatch_WithoutDeviceToHostCopy(PgdNorm norm, float eps, float alpha,
        bool keepHighestLoss)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Uniform(16 * 192, 0f, 1f);
        using var model = new Mlp(Backends.Cpu, new SeededRandom("run-on-device"), hidden: 32, classes: 10, 3, 8, 8);
        using var tx = Tensor.FromArray(Backends.Cpu, x, 16, 3, 8, 8);
        using var ty = Tensor.FromArray(Backends.Cpu, AttackData.Predict(model, tx), 16);
        uint[] ids = Enumerable.Range(100, 16).Select(i => (uint)i).ToArray();
        var pgd = new Pgd(new PgdSettings(norm, eps, alpha, Steps: 5, KeepHighestLoss: keepHighestLoss, Seed: 7))
            { EarlyStopEvery = 100 };
        using var run = pgd.Run(model, tx, ty, ids);
        var counting = new AdvRobust.Cpu.Diagnostics.CountingBackend(Backends.Cpu);
        using var cx = Tensor.FromArray(counting, x, 16, 3, 8, 8);
        using var cy = Tensor.FromArray(counting, ty.ToArray<int>(), 16);
        using var cmodel = new Mlp(counting, new SeededRandom("run-on-device"), hidden: 32, classes: 10, 3, 8, 8);
        var before = counting.Snapshot();
        using var adversarial = pgd.RunOnDevice(cmodel, cx, cy, ids);
        var cost = counting.Snapshot() - before;
        Assert.That((cost.DeviceToHostCopies, cost.HostToDeviceCopies, cost.Syncs), Is.EqualTo((0L, 0L, 0L)));
        Assert.That(adversarial.ToArray().Select(BitConverter.SingleToInt32Bits),
            Is.EqualTo(run.Adversarial.ToArray().Select(BitConverter.SingleToInt32Bits)));
    }

    [Test]
    public void RunOnDevice_WithRestartsOrTargets_IsRefused()
    {
        using var model = new Mlp(Backends.Cpu, new SeededRandom("run-on-device"), hidden: 8, classes: 10, 3, 8, 8);
        using var x = Tensor.Zeros(Backends.Cpu, 2, 3, 8, 8);
        using var y = Tensor.FromArray(Backends.Cpu, new[] { 1, 2 }, 2);
        var restarts = new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, 3, Restarts: 2));
        Assert.Throws<InvalidOperationException>(() => restarts.RunOnDevice(model, x, y, [0, 1]));
    }
}
