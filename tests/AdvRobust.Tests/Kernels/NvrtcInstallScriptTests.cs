using System.Diagnostics;

namespace AdvRobust.Tests.Kernels;

/// <summary>
/// .ci/nvrtc.sh's apt-sources edit, run on copies (<c>--enable-only FILE</c>): it must add exactly the missing
/// <c>contrib non-free</c> to deb822 and one-line sources and leave complete ones byte-for-byte alone, since CI
/// runs it as root on the machine's real /etc/apt files.
/// </summary>
public sealed class NvrtcInstallScriptTests
{
    private static string Script
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, ".ci", "nvrtc.sh");
                if (File.Exists(candidate)) return candidate;
            }
            Assert.Ignore($".ci/nvrtc.sh not found above {AppContext.BaseDirectory}");
            return "";
        }
    }

    [TestCase("Components: main\n", "Components: main contrib non-free\n")]
    [TestCase("Components: main non-free-firmware\n", "Components: main non-free-firmware contrib non-free\n")]
    [TestCase("Components: main contrib\n", "Components: main contrib non-free\n")]
    [TestCase("Components: main contrib non-free\n", "Components: main contrib non-free\n")]
    [TestCase("deb http://deb.debian.org/debian bookworm main\n",
        "deb http://deb.debian.org/debian bookworm main contrib non-free\n")]
    [TestCase("deb-src http://deb.debian.org/debian bookworm main non-free contrib\n",
        "deb-src http://deb.debian.org/debian bookworm main non-free contrib\n")]
    [TestCase("# deb http://x bookworm main\nURIs: http://deb.debian.org/debian\n",
        "# deb http://x bookworm main\nURIs: http://deb.debian.org/debian\n")]
    public void EnableOnly_SourcesFile_AddsOnlyWhatIsMissing(string before, string after)
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("a bash script for Debian");
        string file = Path.Combine(Path.GetTempPath(), $"advrobust-sources-{Guid.NewGuid():N}.sources");
        File.WriteAllText(file, "Types: deb\n" + before);
        try
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in new[] { Script, "--enable-only", file }) start.ArgumentList.Add(arg);
            using var process = Process.Start(start)!;
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.That(process.ExitCode, Is.Zero, stderr);
            Assert.That(File.ReadAllText(file), Is.EqualTo("Types: deb\n" + after));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
