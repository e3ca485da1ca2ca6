using System.Diagnostics;
using AdvRobust.Core.Serialization;
using AdvRobust.Research.Training;

namespace AdvRobust.Tests.Training;

/// <summary>
/// Runs that a kill left behind (issue 11 §2): killed before the first checkpoint, a torn last metrics line, stray
/// <c>*.tmp-PID</c> files of interrupted atomic writes, and resuming a run that already finished. A kill is simulated
/// by an exception thrown from the progress callback: it leaves the folder exactly as a kill -9 between two steps
/// does (the manifest says "running", nothing saved since the last checkpoint).
/// </summary>
public class RunRecoveryTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("advrobust-recover-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Dir(string name) => Path.Combine(_root, name);

    private sealed class SimulatedKill : Exception;

    /// <summary>Runs <paramref name="config"/> in <paramref name="dir"/> until <paramref name="killAt"/> says so,
    /// then "kills" it.</summary>
    private static void RunUntilKilled(TrainConfig config, string dir, Func<TrainProgress, bool> killAt) =>
        Assert.Throws<SimulatedKill>(() => RunTestData.Run(config, dir, onProgress: (p, _) =>
        {
            if (killAt(p)) throw new SimulatedKill();
        }));

    /// <summary>checkpointEvery 2, so the first resume checkpoint comes after epoch 2: killed in the middle of epoch
    /// 1 (nothing but the manifest), and after epoch 1 ended (its metrics line and best.safetensors exist).</summary>
    [TestCase("mid-epoch-1", 1, 3, 0)]
    [TestCase("after-epoch-1", 2, 1, 1)]
    public void Resume_KilledBeforeFirstCheckpoint_RestartsFromStep0AndMatchesUninterruptedRun(string name,
        int killEpoch, int killBatch, int linesLeft)
    {
        var config = RunTestData.Config("checkpointEvery=2");
        var whole = RunTestData.Run(config, Dir("whole"));
        string dir = Dir(name);
        RunUntilKilled(config, dir, p => p.Evaluation is null && p.Epoch == killEpoch && p.Batch == killBatch);
        Assert.That(File.Exists(Path.Combine(dir, "resume.safetensors")), Is.False);
        Assert.That(new MetricsLog(Path.Combine(dir, "metrics.jsonl")).Read(), Has.Count.EqualTo(linesLeft));
        Assert.That(RunDirectory.Open(dir).ReadManifest().Status, Is.EqualTo("running"));

        var refused = Assert.Throws<IOException>(() => RunDirectory.Create(dir))!;
        Assert.That(refused.Message, Does.Contain("--resume").And.Contain("restarts it from step 0"));

        var notices = new List<string>();
        var resumed = RunTestData.Run(config, dir, resume: true, notices: notices);
        Assert.That(resumed.Result.Status, Is.EqualTo(TrainStatus.Completed));
        Assert.That(notices[0], Does.Contain("restarting it from step 0").And.Contain("seed 7"));
        if (linesLeft > 0) Assert.That(notices, Has.Some.Contains("dropped the line of epoch 1"));
        Assert.That(RunTrainerTests.MetricsWithoutTiming(dir), Is.EqualTo(RunTrainerTests.MetricsWithoutTiming(Dir("whole"))));
        RunTrainerTests.AssertSameState(whole.State, resumed.State);
        Assert.That(File.ReadAllBytes(Path.Combine(dir, "best.safetensors")),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(Dir("whole"), "best.safetensors"))));
        var manifest = RunDirectory.Open(dir).ReadManifest();
        Assert.That(manifest.Status, Is.EqualTo("completed"));
        Assert.That(manifest.Resumptions.Select(r => (r.FromEpoch, r.FromStep)), Is.EqualTo(new[] { (1, 0L) }));
    }

    [Test]
    public void Resume_TornLastMetricsLine_DroppedWithNoticeAndMatches()
    {
        var config = RunTestData.Config();
        RunTestData.Run(config, Dir("whole"));
        string dir = Dir("torn");
        // Killed while appending epoch 2's line: the resume checkpoint is the one after epoch 1.
        RunUntilKilled(config, dir, p => p.Evaluation is null && p.Epoch == 2 && p.Batch == 3);
        string metrics = Path.Combine(dir, "metrics.jsonl");
        File.AppendAllText(metrics, "{\"epoch\":2,\"step\":12,\"lr\":0.0");
        Assert.That(new MetricsLog(metrics).TornTail, Does.StartWith("{\"epoch\":2"));

        var notices = new List<string>();
        var resumed = RunTestData.Run(config, dir, resume: true, notices: notices);
        Assert.That(resumed.Result.Status, Is.EqualTo(TrainStatus.Completed));
        Assert.That(notices, Has.One.Contains("dropped a torn last line").And.Contains(metrics));
        Assert.That(RunTrainerTests.MetricsWithoutTiming(dir), Is.EqualTo(RunTrainerTests.MetricsWithoutTiming(Dir("whole"))));
    }

    [Test]
    public void MetricsLog_BadLineThatIsNotATornTail_ErrorNamesFileAndLine()
    {
        RunTestData.Run(RunTestData.Config("epochs=2"), Dir("run"));
        string path = Path.Combine(Dir("run"), "metrics.jsonl");
        string[] good = File.ReadAllLines(path);
        foreach (string text in new[]
                 {
                     $"{good[0]}\ngarbage\n{good[1]}\n", // in the middle
                     $"{good[0]}\n{{\"epoch\":2\n",        // last, but a whole line (it has its newline)
                     $"{good[0]}\ngarbage",                 // last and unterminated, but no JSON object's start
                 })
        {
            File.WriteAllText(path, text);
            var e = Assert.Throws<InvalidDataException>(() => new MetricsLog(path).Read())!;
            Assert.That(e.Message, Does.Contain(path).And.Contain("line 2"));
        }
        File.WriteAllText(path, $"{good[0]}\n{{\"epo");
        Assert.That(new MetricsLog(path).Read().Select(m => m.Epoch), Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void MetricsLog_WholeLastLineWithoutNewline_KeptAndTerminatedOnResume()
    {
        RunTestData.Run(RunTestData.Config("epochs=2"), Dir("run"));
        string path = Path.Combine(Dir("run"), "metrics.jsonl");
        string[] good = File.ReadAllLines(path);
        File.WriteAllText(path, $"{good[0]}\n{good[1]}"); // cut just before the final newline
        var (dropped, torn) = new MetricsLog(path).KeepEpochs(2);
        Assert.That((dropped.Count, torn), Is.EqualTo((0, (string?)null)));
        Assert.That(File.ReadAllText(path), Is.EqualTo($"{good[0]}\n{good[1]}\n"));
    }

    [Test]
    public void Resume_CompletedRun_SaysAlreadyCompleteAndChangesNoFile()
    {
        var config = RunTestData.Config("epochs=2");
        string dir = Dir("done");
        var first = RunTestData.Run(config, dir);
        var before = Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

        var notices = new List<string>();
        var again = RunTestData.Run(config, dir, resume: true, notices: notices);
        Assert.That(again.Result with { LastEpoch = null }, Is.EqualTo(first.Result with { LastEpoch = null }));
        Assert.That(again.Result.LastEpoch?.Epoch, Is.EqualTo(2));
        Assert.That(notices, Is.EqualTo(new[] { $"{dir} is already complete (2 epochs, 12 steps): nothing to do, " +
                                                "nothing changed" }));
        var after = Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        Assert.That(after.Keys, Is.EquivalentTo(before.Keys));
        foreach (var (name, bytes) in before) Assert.That(after[name], Is.EqualTo(bytes), $"{name} changed");
        Assert.That(RunDirectory.Open(dir).ReadManifest().Resumptions, Is.Empty);
    }

    /// <summary>The pid of a process that has exited.</summary>
    private static int DeadPid()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }

    [Test]
    public void AtomicFile_RemoveStale_DeletesOnlyTemporariesOfDeadProcesses()
    {
        if (OperatingSystem.IsWindows()) Assert.Ignore("starts POSIX 'true' and 'sleep'");
        string dir = Directory.CreateDirectory(Dir("tmp")).FullName;
        using var live = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            int dead = DeadPid();
            var files = new Dictionary<string, bool> // name → expected to be removed
            {
                [$"last.safetensors.tmp-{dead}"] = true,
                [$"manifest.json.tmp-{dead}"] = true,
                [$"best.safetensors.tmp-{Environment.ProcessId}"] = false, // ours: a write in progress
                [$"resume.safetensors.tmp-{live.Id}"] = false,             // another live process
                ["notes.tmp-draft"] = false,                                 // not a pid
                ["last.safetensors"] = false,
            };
            foreach (string name in files.Keys) File.WriteAllBytes(Path.Combine(dir, name), new byte[1000]);
            var (paths, bytes) = AtomicFile.RemoveStale(dir);
            Assert.That(paths.Select(Path.GetFileName), Is.EquivalentTo(files.Where(f => f.Value).Select(f => f.Key)));
            Assert.That(bytes, Is.EqualTo(2000));
            foreach (var (name, removed) in files)
                Assert.That(File.Exists(Path.Combine(dir, name)), Is.EqualTo(!removed), name);
        }
        finally
        {
            live.Kill();
            live.WaitForExit();
        }
    }

    [Test]
    public void Resume_StrayTemporaryFiles_RemovedAndAnnouncedThenRunCompletes()
    {
        if (OperatingSystem.IsWindows()) Assert.Ignore("starts POSIX 'true'");
        var config = RunTestData.Config();
        string dir = Dir("stray");
        RunUntilKilled(config, dir, p => p.Evaluation is null && p.Epoch == 2 && p.Batch == 2);
        string stray = Path.Combine(dir, $"resume.safetensors.tmp-{DeadPid()}");
        File.WriteAllBytes(stray, new byte[300_000]);

        var run = RunDirectory.Open(dir);
        Assert.That(File.Exists(stray), Is.False);
        Assert.That(run.OpenNotice, Does.Contain("removed 1 stray temporary file").And.Contain("0.3 MB")
            .And.Contain(Path.GetFileName(stray)));
        Assert.That(RunTestData.Run(config, dir, resume: true).Result.Status, Is.EqualTo(TrainStatus.Completed));
        Assert.That(Directory.GetFiles(dir, "*.tmp-*"), Is.Empty);
    }
}
