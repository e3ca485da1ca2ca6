using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// Every attack on the CUDA backend: the same invariants as on the CPU (eps-ball, [0, 1], flags = predictions), and a
// success count close to the CPU's for the same weights and inputs (float differences may flip borderline points).
// Shape letters: N samples of 3×8×8 pixels, K = 10 classes.
[Category("Gpu")]
public class AttackGpuTests
{
    private static IEnumerable<TestCaseData> Attacks()
    {
        IAttack[] attacks =
        [
            new Fgsm(new FgsmSettings(0.03f)),
            new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 5, Restarts: 2, Seed: 1)),
            new Pgd(new PgdSettings(PgdNorm.L2, 0.5f, 0.1f, Steps: 5, Seed: 1)),
            new Apgd(new ApgdSettings(PgdNorm.Linf, 0.03f, Steps: 10, Seed: 1)),
            new Apgd(new ApgdSettings(PgdNorm.L2, 0.5f, Steps: 10, Loss: AttackLossKind.Dlr, Seed: 1)),
            new Apgd(new ApgdSettings(PgdNorm.Linf, 0.03f, Steps: 10, Loss: AttackLossKind.TargetedDlr, TargetClasses: 3,
                Seed: 1)),
            new Square(new SquareSettings(0.03f, Queries: 100, Seed: 1)),
            new Fab(new FabSettings(PgdNorm.Linf, 0.03f, Steps: 10, TargetClasses: 3, Seed: 1)),
            new Fab(new FabSettings(PgdNorm.L2, 0.5f, Steps: 10, Restarts: 2, TargetClasses: 3, Seed: 1)),
        ];
        return attacks.Select(a => new TestCaseData(a).SetArgDisplayNames($"{a.Name}-{a.Norm}"));
    }

    [TestCaseSource(nameof(Attacks))]
    public void Attack_OnCuda_StaysInBallAndBoxAndMatchesCpuSuccessCount(IAttack attack)
    {
        var gpu = Backends.CudaOrIgnore();
        const int n = 64;
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] x = rng.Uniform(n * 192, 0f, 1f);
        using var cpuModel = new Mlp(Backends.Cpu, new SeededRandom("gpu-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var gpuModel = new Mlp(gpu, new SeededRandom("gpu-mlp"), hidden: 32, classes: 10, 3, 8, 8);
        using var cx = Tensor.FromArray(Backends.Cpu, x, n, 3, 8, 8);
        int[] y = AttackData.Predict(cpuModel, cx);
        using var cy = Tensor.FromArray(Backends.Cpu, y, n);
        using var gx = Tensor.FromArray(gpu, x, n, 3, 8, 8);
        using var gy = Tensor.FromArray(gpu, y, n);

        using var onGpu = attack.Run(gpuModel, gx, gy, 0u);
        Assert.That(onGpu.Adversarial.Backend, Is.SameAs(gpu));
        AttackData.AssertInBallAndBox(onGpu.Adversarial, gx, attack.Norm, attack.Eps);
        int[] pred = AttackData.Predict(gpuModel, onGpu.Adversarial);
        Assert.That(onGpu.Success, Is.EqualTo(pred.Select((p, i) => p != y[i]).ToArray()));

        using var onCpu = attack.Run(cpuModel, cx, cy, 0u);
        Assert.That(onGpu.SuccessCount, Is.EqualTo(onCpu.SuccessCount).Within(n / 10),
            $"{attack.Name}: GPU fooled {onGpu.SuccessCount}, CPU {onCpu.SuccessCount}");
        Assert.That(onCpu.SuccessCount, Is.GreaterThan(0), "eps should fool some points");
    }
}
