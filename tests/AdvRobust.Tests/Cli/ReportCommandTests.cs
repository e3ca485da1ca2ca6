namespace AdvRobust.Tests.Cli;

/// <summary>`advrobust report` end to end on hand-written run directories.</summary>
public class ReportCommandTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("advrobust-report-cli-").FullName;

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void Report_TwoRuns_WritesReportAndCharts()
    {
        string a = ReportTests.WriteRun(_dir, "a", ReportTests.Manifest, ReportTests.Metrics, ReportTests.Detection());
        string b = ReportTests.WriteRun(_dir, "b", "{\"config\":{}}", "{\"epoch\":1,\"trainLoss\":1.2}");
        string outDir = Path.Combine(_dir, "out");
        Assert.That(AdvRobust.Cli.Program.Main(["report", a, b, "--out", outDir]), Is.Zero);
        Assert.That(File.ReadAllText(Path.Combine(outDir, "report.md")), Does.Contain("## a").And.Contain("## b"));
        ReportTests.AssertPng(Path.Combine(outDir, "loss.png"), 800, 500);
        ReportTests.AssertPng(Path.Combine(outDir, "roc-a.png"), 800, 500);
    }

    [Test]
    public void Report_MissingDirectory_ExitsWithFileSystemCode() =>
        Assert.That(AdvRobust.Cli.Program.Main(["report", Path.Combine(_dir, "nope"), "--out", _dir]), Is.EqualTo(4));

    [Test]
    public void Report_UnreadableMetrics_ExitsWithInvalidInputCode()
    {
        string bad = ReportTests.WriteRun(_dir, "bad", null, "not json");
        Assert.That(AdvRobust.Cli.Program.Main(["report", bad, "--out", Path.Combine(_dir, "out")]), Is.EqualTo(2));
    }
}
