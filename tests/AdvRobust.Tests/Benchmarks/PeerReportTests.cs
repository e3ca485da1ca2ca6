using AdvRobust.Benchmarks.Peer;

namespace AdvRobust.Tests.Benchmarks;

/// <summary>
/// Issue 14, `build.ps1 bench --peer`: CI does not run the comparison (it takes about 15 minutes), so these tests keep
/// its parsers and table from rotting. They read canned outputs in PeerData/: a BenchmarkDotNet JSON report of one
/// round (--exporters json, trimmed to the statistics) and the two PyTorch peers' stdout, in the forms the real
/// programs print. The test project compiles benchmarks/AdvRobust.Benchmarks/Peer/PeerRows.cs and PeerReport.cs.
/// </summary>
public class PeerReportTests
{
    private static string Data(string name) =>
        File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "Benchmarks", "PeerData", name));

    [Test]
    public void TheBenchmarkReportHasEveryRowsCase()
    {
        var report = PeerReport.ParseBdnJson(Data("bdn-report.json"));
        foreach (var row in PeerRows.All)
            Assert.That(report.MedianNs.ContainsKey(row.OursCase), $"no {row.OursCase} in the canned report");
        Assert.That(report.LogicalCores, Is.GreaterThan(0));
        Assert.That(report.BenchmarkDotNet, Does.Match(@"^\d+\.\d+"));
        Assert.That(report.Runtime, Does.StartWith(".NET"));
    }

    [Test]
    public void AMedianTimeBecomesTheRowsUnit()
    {
        var attack = PeerRows.All[0];
        Assert.That(attack.UnitText, Is.EqualTo("img/s"));
        Assert.That(attack.FromNanoseconds(2e9), Is.EqualTo(128).Within(1e-9));  // 256 images in 2 s
        var sgemm = PeerRows.All.Single(r => r.Unit == PeerUnit.GflopsPerSecond);
        Assert.That(sgemm.FromNanoseconds(1e7), Is.EqualTo(2.0 * 1024 * 1024 * 1024 / 1e7).Within(1e-9));
        var ms = PeerRows.Mining;
        Assert.That(ms.FromNanoseconds(316e6), Is.EqualTo(316).Within(1e-9));
        // Speed ratio ours ÷ PyTorch: a rate divides, a time divides the other way round.
        Assert.That(attack.SpeedRatio(130, 100), Is.EqualTo(1.3).Within(1e-12));
        Assert.That(ms.SpeedRatio(200, 100), Is.EqualTo(0.5).Within(1e-12));
    }

    [Test]
    public void ThePeersOutputsGiveEveryPeerRow()
    {
        var figures = PeerReport.ParseTorch(Data("torch_peer_cpu.txt"));
        foreach (var (key, value) in PeerReport.ParseTorch(Data("torch_peer_extra.txt"))) figures[key] = value;
        foreach (var row in PeerRows.All.Where(r => r.TorchLine is not null))
            Assert.That(figures.ContainsKey(row.TorchLine!), $"no '{row.TorchLine}' line in the canned peer output");
        Assert.That(figures["PGD-10 attack"], Is.EqualTo(127));
        Assert.That(figures["SGEMM 1024^3"], Is.EqualTo(183.4));
        Assert.That(figures["ResNet-18 forward + input gradient B=32"], Is.EqualTo(422.0));
        Assert.That(PeerReport.Info(Data("torch_peer_extra.txt"), "torch"), Is.EqualTo("1.13.0a0"));
        Assert.That(PeerReport.Info(Data("torch_peer_extra.txt"), "BLAS"), Does.Contain("openblas"));
    }

    [Test]
    public void APeerLineInAnotherUnitIsRejected() =>
        Assert.Throws<FormatException>(() => PeerReport.ParseTorch("cdist 4096x4096x512: 0.111 GFLOP/s\n"));

    [Test]
    public void TheTableHasMediansRatiosAndGoals()
    {
        var report = PeerReport.ParseBdnJson(Data("bdn-report.json"));
        var torch = PeerReport.ParseTorch(Data("torch_peer_cpu.txt"));
        var rounds = new List<PeerRound>();
        // Three rounds: ours at 1×, 2× and 0.5× the canned times, PyTorch's attack at 100, 127 and 130 img/s.
        foreach (var (scale, attack) in new[] { (1.0, 100.0), (2.0, 127.0), (0.5, 130.0) })
        {
            var round = new PeerRound();
            foreach (var (key, ns) in report.MedianNs) round.OursNs[key] = ns * scale;
            foreach (var (key, value) in torch) round.Torch[key] = value;
            round.Torch["PGD-10 attack"] = attack;
            rounds.Add(round);
        }
        string table = PeerReport.Table(rounds, ["### header"]);
        var lines = table.Split('\n');
        Assert.That(lines[0], Is.EqualTo("### header"));
        var attackRow = PeerRows.All[0];
        double oursMedian = attackRow.FromNanoseconds(report.MedianNs[attackRow.OursCase]);
        string line = lines.Single(l => l.StartsWith($"| {attackRow.Workload} |", StringComparison.Ordinal));
        var cells = line.Split('|').Select(c => c.Trim()).ToArray();
        // cells: "", workload, unit, PyTorch per round, ours per round, PyTorch, ours, ratio, goal, met, ""
        Assert.That(cells[3], Is.EqualTo("100 / 127 / 130"));
        Assert.That(cells[5], Is.EqualTo("127"));
        Assert.That(double.Parse(cells[6].Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture),
            Is.EqualTo(oursMedian).Within(oursMedian * 0.01 + 0.5));
        Assert.That(cells[7], Is.EqualTo($"{oursMedian / 127:0.00}×"));
        Assert.That(cells[8], Is.EqualTo("≥1.3×"));
        Assert.That(cells[9], Is.EqualTo(oursMedian / 127 >= 1.3 ? "yes" : "no"));
        // Every row, and the mining ÷ distance ratio with its goal.
        foreach (var row in PeerRows.All)
            Assert.That(lines.Count(l => l.StartsWith($"| {row.Workload} |", StringComparison.Ordinal)), Is.EqualTo(1));
        string mining = lines.Single(l => l.StartsWith("| batch-hard mining ÷", StringComparison.Ordinal));
        Assert.That(mining, Does.Contain("≤1.2×"));
    }

    [Test]
    public void RoundsWithoutPyTorchLeaveItsColumnsEmpty()
    {
        var report = PeerReport.ParseBdnJson(Data("bdn-report.json"));
        var round = new PeerRound();
        foreach (var (key, ns) in report.MedianNs) round.OursNs[key] = ns;
        string line = PeerReport.Table([round], []).Split('\n')
            .Single(l => l.StartsWith($"| {PeerRows.All[5].Workload} |", StringComparison.Ordinal));
        var cells = line.Split('|').Select(c => c.Trim()).ToArray();
        Assert.That(cells[3], Is.EqualTo("-"));
        Assert.That(cells[5], Is.EqualTo("-"));
        Assert.That(cells[7], Is.EqualTo("-"));
        Assert.That(cells[9], Is.Empty);
    }

    [Test]
    public void MedianOfEvenAndOddCounts()
    {
        Assert.That(PeerReport.Median([3, 1, 2]), Is.EqualTo(2));
        Assert.That(PeerReport.Median([4, 1, 3, 2]), Is.EqualTo(2.5));
        Assert.That(PeerReport.Median([]), Is.Null);
    }
}
