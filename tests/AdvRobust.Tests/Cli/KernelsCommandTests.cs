using AdvRobust.Cuda.Interop;

namespace AdvRobust.Tests.Cli;

/// <summary>`advrobust kernels`: the NVRTC resource report (what `build.ps1 kernels` runs).</summary>
[NonParallelizable]
public sealed class KernelsCommandTests
{
    [Test]
    public void Kernels_UnknownArch_ExitsTwoNamingTheKnownOnes()
    {
        var (code, _, error) = Run("kernels", "--arch", "sm_75");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.Contain("sm_75").And.Contain("sm_80, sm_90"));
    }

    [Test]
    public void Kernels_Sm90_PrintsAndWritesTheTableForEveryLaunchedKernel()
    {
        if (NativeLibraries.Probe(NativeLibraries.Nvrtc).File is null) Assert.Ignore("NVRTC is not installed");
        string file = Path.Combine(Path.GetTempPath(), $"advrobust-resources-{Guid.NewGuid():N}.md");
        try
        {
            var (code, output, error) = Run("kernels", "--arch", "sm_90", "--markdown", file);
            Assert.That(code, Is.Zero, error);
            string written = File.ReadAllText(file);
            Assert.That(output, Does.StartWith(written));
            Assert.That(written, Does.Contain("## sm_90").And.Not.Contain("## sm_80"));
            foreach (var launch in AdvRobust.Cuda.Kernels.Launches)
                Assert.That(written, Does.Contain($"| {launch.Family} | {launch.Name} | {launch.BlockThreads} |"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var (savedOut, savedError) = (Console.Out, Console.Error);
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            return (AdvRobust.Cli.Program.Main(args), output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(savedOut);
            Console.SetError(savedError);
        }
    }
}
