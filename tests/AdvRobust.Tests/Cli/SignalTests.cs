using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using AdvRobust.Research.Training;

namespace AdvRobust.Tests.Cli;

/// <summary>
/// The built <c>advrobust</c> in a child process, stopped by a real signal, as Slurm, <c>docker stop</c>, Kubernetes
/// (SIGTERM) or a user (Ctrl-C, SIGINT) would: training saves a resumable checkpoint, marks the manifest and exits
/// with 143; certify keeps its finished points, says so and exits with 130. A few seconds each (the small CNN on the
/// 32-image IDX folder of <see cref="TrainCommandTests"/>); POSIX only.
/// </summary>
[NonParallelizable]
public class SignalTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows()) Assert.Ignore("POSIX signals");
        _dir = Directory.CreateTempSubdirectory("advrobust-signal-").FullName;
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>advrobust (the apphost beside the test assembly) with its output captured.</summary>
    private sealed class Child : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        public Child(params string[] args)
        {
            var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "advrobust"))
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            foreach (string a in args) start.ArgumentList.Add(a);
            start.Environment["NO_COLOR"] = "1";
            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        /// <summary>Waits (polling) until <paramref name="ready"/> holds; fails if the child exits first.</summary>
        public void WaitUntil(Func<bool> ready, string what)
        {
            var watch = Stopwatch.StartNew();
            while (!ready())
            {
                if (_process.HasExited) Assert.Fail($"advrobust exited ({_process.ExitCode}) before {what}:\n{Output}");
                if (watch.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail($"no {what} after 60 s:\n{Output}");
                Thread.Sleep(20);
            }
        }

        public void Signal(string name)
        {
            using var kill = Process.Start("kill", $"-{name} {_process.Id}")!;
            kill.WaitForExit();
            Assert.That(kill.ExitCode, Is.Zero, $"kill -{name}");
        }

        public int WaitForExit()
        {
            if (!_process.WaitForExit(TimeSpan.FromSeconds(60)))
                Assert.Fail($"advrobust did not exit within 60 s of the signal:\n{Output}");
            _process.WaitForExit(); // drains the output
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill();
            _process.Dispose();
        }
    }

    [Test]
    public void Sigterm_TrainSavesAndExits143_CertifyOnSigintKeepsItsPointsAndExits130()
    {
        string config = TrainCommandTests.WriteConfig(_dir), run = Path.Combine(_dir, "run");
        using (var train = new Child("train", "--config", config, "--set", "epochs=100000", "--out", run))
        {
            // The manifest is written just before the first step: the signal lands in epoch 1, before any checkpoint.
            train.WaitUntil(() => File.Exists(Path.Combine(run, "manifest.json")), "the run's manifest");
            train.Signal("TERM");
            Assert.That(train.WaitForExit(), Is.EqualTo(143), train.Output);
            Assert.That(train.Output, Does.Contain("SIGTERM").And.Contain("--resume"));
        }
        var manifest = RunDirectory.Open(run).ReadManifest();
        Assert.That(manifest.Status, Is.EqualTo("cancelled"));
        Assert.That(manifest.EndTime, Is.Not.Null);
        Assert.That(File.Exists(Path.Combine(run, "resume.safetensors")), "resume checkpoint");

        string cert = Path.Combine(_dir, "cert.jsonl");
        using var certify = new Child("certify", "--model", Path.Combine(run, "last.safetensors"), "--arch",
            "small-cnn", "--data", Path.Combine(_dir, "data"), "--sigma", "0.25", "--n", "200000", "--n0", "10",
            "--batch", "500", "--out", cert);
        certify.WaitUntil(() => File.Exists(cert) && File.ReadAllLines(cert).Length >= 1, "the certify header");
        certify.Signal("INT");
        Assert.That(certify.WaitForExit(), Is.EqualTo(130), certify.Output);
        Assert.That(Regex.Replace(certify.Output, @"\s+", " "), Does.Contain(
            $"stopped by Ctrl-C (SIGINT): 0 of 8 points are in {cert} (the point in progress is computed again); " +
            "run the same command to continue"));
        Assert.That(File.ReadAllLines(cert), Has.Length.EqualTo(1), "the header only");
    }
}
