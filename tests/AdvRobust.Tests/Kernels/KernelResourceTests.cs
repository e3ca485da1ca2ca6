using AdvRobust.Cuda;

namespace AdvRobust.Tests.Kernels;

/// <summary>The resource report's parts that need no compiler: ptxas log parsing, the occupancy arithmetic against
/// hand-worked cases of NVIDIA's calculator, the problems a row reports, and the launch table read from the
/// launchers.</summary>
public sealed class KernelResourceTests
{
    private const string Log = """
        ptxas info    : 24 bytes gmem
        ptxas info    : Compiling entry function 'big_f32' for 'sm_90'
        ptxas info    : Function properties for big_f32
        ptxas         .     48 bytes stack frame, 40 bytes spill stores, 36 bytes spill loads
        ptxas info    : Used 255 registers, 8320 bytes smem, 400 bytes cmem[0]
        ptxas info    : Function properties for helper
        ptxas         .     8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
        ptxas info    : Compiling entry function 'small_f32' for 'sm_90'
        ptxas info    : Function properties for small_f32
        ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
        ptxas info    : Used 21 registers
        """;

    private static readonly Dictionary<string, CubinFunction> Cubin = new()
    {
        ["big_f32"] = new("big_f32", 255, 48, null),
        ["small_f32"] = new("small_f32", 21, 0, 128),
    };

    [Test]
    public void Parse_PtxasLog_ReadsEachEntrysRegistersSharedStackAndSpills()
    {
        var r = KernelResources.Parse("fam", "sm_90", Log, Cubin);
        Assert.That(r, Has.Count.EqualTo(2));
        Assert.That(r[0], Is.EqualTo(new KernelResource("fam", "big_f32", "sm_90", 255, 8320, 48, 40, 36, 255, null)));
        Assert.That(r[0].Spills, Is.True);
        Assert.That(r[1], Is.EqualTo(new KernelResource("fam", "small_f32", "sm_90", 21, 0, 0, 0, 0, 21, 128)));
        Assert.That(r[1].Spills, Is.False, "the non-entry helper's spills belong to no kernel");
    }

    [Test]
    public void Parse_LogWithoutResourceLines_ThrowsNamingTheKernelAndTheOption()
    {
        string log = "ptxas info    : Compiling entry function 'small_f32' for 'sm_90'\n";
        var e = Assert.Throws<InvalidDataException>(() => KernelResources.Parse("fam", "sm_90", log, Cubin));
        Assert.That(e!.Message, Does.Contain("small_f32").And.Contain("--ptxas-options=-v").And.Contain("fam.cu"));
        var empty = Assert.Throws<InvalidDataException>(() => KernelResources.Parse("fam", "sm_90", "", Cubin));
        Assert.That(empty!.Message, Does.Contain("no entry function"));
    }

    [Test]
    public void Parse_LogForAnotherArch_Throws()
    {
        var e = Assert.Throws<InvalidDataException>(() => KernelResources.Parse("fam", "sm_80", Log, Cubin));
        Assert.That(e!.Message, Does.Contain("sm_90").And.Contain("sm_80"));
    }

    // Worked by hand with the calculator's rules: registers per warp = roundup(regs*32, 256); warps per SM from
    // registers = 4 * floor(16384 / that); shared per block = roundup(bytes + 1024, 128).
    [TestCase("sm_90", 256, 106, 8320, 2, "registers")]     // 3584 per warp: 4*4 = 16 warps = 2 blocks of 8
    [TestCase("sm_90", 256, 46, 128, 5, "registers")]       // 1536 per warp: 4*10 = 40 warps = 5 blocks
    [TestCase("sm_90", 256, 32, 0, 8, "warps")]             // 64 warps / 8
    [TestCase("sm_90", 32, 16, 0, 32, "blocks")]            // 64 one-warp blocks would fit; 32 may reside
    [TestCase("sm_90", 1024, 64, 0, 1, "registers")]        // 2048 per warp: 4*8 = 32 warps = 1 block of 32
    [TestCase("sm_90", 64, 8, 49152, 4, "shared memory")]   // 50176 B per block: 233472 / 50176 = 4
    [TestCase("sm_80", 64, 8, 49152, 3, "shared memory")]   // 167936 / 50176 = 3
    public void BlocksPerSm_HandWorkedCases(string arch, int block, int regs, int shared, int blocks, string limiter)
    {
        var limits = ArchLimits.For(arch);
        Assert.That(limits.BlocksPerSm(block, regs, shared, out string why), Is.EqualTo(blocks));
        Assert.That(why, Is.EqualTo(limiter));
    }

    [TestCase(1024, 65, 0, "registers per block")]   // 2304 per warp * 32 warps = 73728 > 65536
    [TestCase(2048, 16, 0, "outside 1..1024")]
    [TestCase(64, 8, 49153, "without opt-in")]
    public void BlocksPerSm_LaunchThatCannotStart_IsZeroWithTheReason(int block, int regs, int shared, string reason)
    {
        Assert.That(ArchLimits.Sm90.BlocksPerSm(block, regs, shared, out string why), Is.Zero);
        Assert.That(why, Does.Contain(reason));
        Assert.That(ArchLimits.Sm90.Occupancy(block, regs, shared), Is.Zero);
    }

    [Test]
    public void Build_SpillBoundsMissingLauncherAndMissingKernel_AreEachAProblem()
    {
        var resources = KernelResources.Parse("fam", "sm_90", Log, Cubin);
        var launches = new[]
        {
            new KernelLaunch("fam", "small_f32", 256, 0),   // above its __launch_bounds__(128)
            new KernelLaunch("fam", "gone_f32", 256, 0),    // launched, not compiled
        };
        var problems = KernelResourceReport.Problems(KernelResourceReport.Build(resources, launches, ArchLimits.Sm90));
        Assert.That(problems, Has.Some.Contains("big_f32 (sm_90): spills: 40 B stores, 36 B loads"));
        Assert.That(problems, Has.Some.Contains("big_f32 (sm_90): no launcher"));
        Assert.That(problems, Has.Some.Contains("small_f32 (sm_90): launcher's block of 256 threads > __launch_bounds__ 128"));
        Assert.That(problems, Has.Some.Contains("gone_f32 (sm_90): launched, but fam.cu has no such kernel"));
        Assert.That(problems, Has.Count.EqualTo(4));
    }

    [Test]
    public void Build_LogAndCubinDisagreeOnRegisters_IsAProblem()
    {
        var wrong = new Dictionary<string, CubinFunction>(Cubin) { ["small_f32"] = new("small_f32", 22, 0, null) };
        var resources = KernelResources.Parse("fam", "sm_90", Log, wrong).Where(r => r.Name == "small_f32").ToList();
        var rows = KernelResourceReport.Build(resources, [new KernelLaunch("fam", "small_f32", 128, 0)], ArchLimits.Sm90);
        Assert.That(KernelResourceReport.Problems(rows), Is.EqualTo(new[]
        {
            "fam.cu small_f32 (sm_90): ptxas's log says 21 registers, the cubin 22",
        }));
    }

    [Test]
    public void Launches_ReadFromTheLaunchers_OnePerKernelWithTheirBlockSizes()
    {
        var launches = AdvRobust.Cuda.Kernels.Launches;
        Assert.That(launches.Select(l => l.Name), Is.Unique);
        Assert.That(launches, Has.Count.EqualTo(43));
        Assert.That(launches.Single(l => l.Name == "triplet_mine_f32").BlockThreads,
            Is.EqualTo(AdvRobust.Cuda.Kernels.TripletThreads));
        Assert.That(launches.Single(l => l.Name == "channel_sum_f32").BlockThreads,
            Is.EqualTo(AdvRobust.Cuda.Kernels.ChannelSumThreads));
        Assert.That(launches.All(l => l.DynamicSharedBytes == 0), Is.True, "no launcher asks for dynamic shared memory");
    }

    [Test]
    public void CubinElf_NotAnElfFile_ThrowsNamingIt()
    {
        var e = Assert.Throws<InvalidDataException>(() => CubinElf.Functions("not a cubin"u8.ToArray(), "pgd.cu sm_90"));
        Assert.That(e!.Message, Does.Contain("pgd.cu sm_90").And.Contain("not an ELF64"));
    }

    [Test]
    public void ArchLimits_UnknownArch_NamesTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => ArchLimits.For("sm_75"));
        Assert.That(e!.Message, Does.Contain("sm_75").And.Contain("sm_80").And.Contain("sm_90"));
    }
}
