using System.Security.Cryptography;
using AdvRobust.Cuda;

namespace AdvRobust.Tests.Interop;

public class KernelSourcesTests
{
    private static string KernelDir => Path.Combine(AppContext.BaseDirectory, "kernels");

    [Test]
    public void Families_AllKernelFilesAreEmbedded()
    {
        var onDisk = Directory.GetFiles(KernelDir, "*.cu").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        Assert.That(KernelSources.Families, Is.EqualTo(onDisk));
        Assert.That(KernelSources.Families, Is.SupersetOf(new[] { "pgd", "distance", "triplet", "elementwise", "reduce" }));
    }

    [Test]
    public void Hash_EqualsShellFormulaOverFilesOnDisk()
    {
        // cat kernels/F.cu $(ls kernels/*.cuh | LC_ALL=C sort) | sha256sum | cut -c1-16 — what build.ps1 names fatbins by.
        var headers = Directory.GetFiles(KernelDir, "*.cuh").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        foreach (var family in KernelSources.Families)
        {
            var bytes = File.ReadAllBytes(Path.Combine(KernelDir, family + ".cu"))
                .Concat(headers.SelectMany(h => File.ReadAllBytes(Path.Combine(KernelDir, h!)))).ToArray();
            string expected = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
            Assert.That(KernelSources.Hash(family), Is.EqualTo(expected), family);
        }
    }

    [Test]
    public void Source_UnknownFamily_NamesTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => KernelSources.Source("conv"));
        Assert.That(e!.Message, Does.Contain("pgd"));
    }

    [Test]
    public void CubinPath_KeyedByHashArchAndCompilerVersion()
    {
        string a = KernelCache.CubinPath("pgd", "sm_90", (13, 0));
        Assert.That(a, Does.Contain(KernelSources.Hash("pgd")).And.Contain("sm_90").And.Contain("nvrtc13.0"));
        Assert.That(KernelCache.CubinPath("pgd", "sm_80", (13, 0)), Is.Not.EqualTo(a));
        Assert.That(KernelCache.CubinPath("pgd", "sm_90", (12, 8)), Is.Not.EqualTo(a));
    }
}
