using System.Security.Cryptography;
using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

// CPU results of PGD, FGSM and APGD, bit for bit: SHA-256 over the adversarial examples, success flags and losses of
// each attack, recorded from the host-bookkeeping implementation before the bookkeeping moved to the device (commit
// 52161b0). Any change of floating-point order on the CPU path changes a hash. Shape letters: N = 24 samples of
// 3×8×8 pixels, K = 10 classes.
public class AttackGoldenTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        (string Name, IAttack Attack, string Hash)[] cases =
        [
            ("pgd-linf-restarts", new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 7, Restarts: 3, Seed: 5)), "a764c4e73d0b133c"),
            ("pgd-l2", new Pgd(new PgdSettings(PgdNorm.L2, 0.4f, 0.1f, Steps: 6, Restarts: 2, Seed: 5)), "e18c073fd81b1ae3"),
            ("pgd-cw-targeted", new Pgd(new PgdSettings(PgdNorm.Linf, 0.04f, 0.01f, Steps: 6, Restarts: 2,
                Loss: AttackLossKind.CW, Targeted: true, Seed: 2)), "1e785305ec92ba0d"),
            ("pgd-keep-highest", new Pgd(new PgdSettings(PgdNorm.Linf, 0.03f, 0.01f, Steps: 5, Restarts: 2,
                KeepHighestLoss: true, Seed: 9)), "6cdb5791712a9702"),
            ("pgd-no-random-start", new Pgd(new PgdSettings(PgdNorm.L2, 0.3f, 0.1f, Steps: 5, RandomStart: false)), "9ce0143bb642e3e5"),
            ("fgsm-linf", new Fgsm(new FgsmSettings(0.03f)), "b35678c55d67faa0"),
            ("fgsm-l2-targeted", new Fgsm(new FgsmSettings(0.5f, PgdNorm.L2, Targeted: true)), "ac46e6af2969c776"),
            ("apgd-ce-linf", new Apgd(new ApgdSettings(PgdNorm.Linf, 0.02f, Steps: 12, Restarts: 2, Seed: 4)), "cc552f81502dc4e1"),
            ("apgd-dlr-l2", new Apgd(new ApgdSettings(PgdNorm.L2, 0.3f, Steps: 12, Loss: AttackLossKind.Dlr, Seed: 4)), "8709f8f029626850"),
            ("apgd-t-linf", new Apgd(new ApgdSettings(PgdNorm.Linf, 0.02f, Steps: 10, Loss: AttackLossKind.TargetedDlr,
                TargetClasses: 3, Seed: 4)), "f12eb131ef2a6007"),
            ("apgd-cw-l2", new Apgd(new ApgdSettings(PgdNorm.L2, 0.3f, Steps: 10, Loss: AttackLossKind.CW, Seed: 4)), "8419e3352ac7bf40"),
        ];
        return cases.Select(c => new TestCaseData(c.Attack, c.Hash).SetArgDisplayNames(c.Name));
    }

    [TestCaseSource(nameof(Cases))]
    public void Attack_OnCpu_MatchesRecordedHash(IAttack attack, string expected)
    {
        const int n = 24;
        var cpu = Backends.Cpu;
        var (model, x, y) = AttackTestData.Mlp(cpu, new SeededRandom("attack-golden"), n);
        using (model)
        {
            using var tx = Tensor.FromArray(cpu, x, n, 3, 8, 8);
            using var ty = Tensor.FromArray(cpu, y, n);
            using var tt = Tensor.FromArray(cpu, y.Select(v => (v + 3) % 10).ToArray(), n);
            using var result = attack.Run(model, tx, ty, 0u, attack.NeedsTargets ? tt : null);
            Assert.That(Hash(result), Is.EqualTo(expected), $"{result.SuccessCount} fooled");
        }
    }

    internal static string Hash(AttackResult result)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.Adversarial.ToArray().AsSpan()));
        sha.AppendData(result.Success.Select(s => (byte)(s ? 1 : 0)).ToArray());
        sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.Loss.AsSpan()));
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
