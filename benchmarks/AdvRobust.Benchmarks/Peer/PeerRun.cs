using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace AdvRobust.Benchmarks.Peer;

/// <summary>
/// `--peer [--rounds N] [--python PATH] [--out FILE]` (what `build.ps1 bench --peer` runs; issue 14): our CPU cases of
/// <see cref="PeerRows"/> and the PyTorch peers alternately, N rounds (default 3), the order swapped every round, then
/// one markdown table of per-round values, medians and ratios with the machine, date, commit and library versions,
/// printed and written to benchmarks/results/peer-DATE-COMMIT.md. Our side of a round is a fresh process of this
/// program (<see cref="RoundFlag"/>): BenchmarkDotNet in-process, filtered to the rows' cases, one warm-up and
/// <see cref="Iterations"/> measured iterations, JSON exported and read back. The PyTorch side is
/// ../shared/bench/torch_peer_cpu.py (small CNN, SGEMM, cdist) and benchmarks/peer/torch_peer_extra.py (ResNet-18,
/// mining). Without PyTorch it says how to install it and still measures ours. Raw outputs: artifacts/peer/.
/// </summary>
public static class PeerRun
{
    public const string Flag = "--peer";
    public const string RoundFlag = "--peer-round";
    public const int Iterations = 5;
    public const string InstallHint =
        "on Debian: sudo apt-get install python3-torch libopenblas0-pthread (or pass --python PATH to a Python with torch)";

    public static int Run(string[] args)
    {
        int rounds = int.TryParse(Option(args, "--rounds"), out int n) && n > 0 ? n : 3;
        string root = RepoRoot();
        string python = Option(args, "--python") ?? (File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
        string cpuPeer = Path.GetFullPath(Path.Combine(root, "..", "shared", "bench", "torch_peer_cpu.py"));
        string extraPeer = Path.Combine(root, "benchmarks", "peer", "torch_peer_extra.py");
        string commit = Commit(root);
        var started = DateTime.UtcNow;
        string stamp = started.ToString("yyyy-MM-dd-HHmm", CultureInfo.InvariantCulture);
        string work = Path.Combine(root, "artifacts", "peer", $"{stamp}-{commit}");
        string outFile = Option(args, "--out") ?? Path.Combine(root, "benchmarks", "results", $"peer-{stamp}-{commit}.md");
        Directory.CreateDirectory(work);

        var notes = new List<string>();
        bool torch = Exec(python, ["-c", "import torch"], null).Code == 0;
        if (!torch) notes.Add($"PyTorch not measured: {python} cannot import torch; {InstallHint}.");
        var peers = new List<string>();
        if (torch && File.Exists(cpuPeer)) peers.Add(cpuPeer);
        else if (torch) notes.Add($"no {cpuPeer} (shared/ beside the checkout): the small CNN, SGEMM and cdist rows have no PyTorch figure.");
        if (torch) peers.Add(extraPeer);
        foreach (var note in notes) Console.WriteLine($"peer: {note}");

        string loadStart = LoadAverage();
        var clock = Stopwatch.StartNew();
        var results = new List<PeerRound>();
        BdnReport? host = null;
        string torchInfo = "";
        for (int r = 0; r < rounds; r++)
        {
            var round = new PeerRound();
            results.Add(round);
            string dir = Path.Combine(work, $"round-{r + 1}");
            var sides = r % 2 == 0 ? new[] { "ours", "PyTorch" } : ["PyTorch", "ours"];
            foreach (var side in sides)
            {
                var sideClock = Stopwatch.StartNew();
                if (side == "ours") host = RunOurs(dir, round) ?? host;
                else if (peers.Count > 0) torchInfo = RunTorch(python, peers, dir, round);
                else continue;
                Console.WriteLine($"peer: round {r + 1}/{rounds} {side}: {sideClock.Elapsed.TotalSeconds:F0} s");
            }
        }

        var header = new List<string>
        {
            $"### `build.ps1 bench --peer`: {started:yyyy-MM-dd HH:mm} UTC, commit {commit}",
            "",
            $"- machine: {host?.Processor ?? "?"}{(Avx512F.IsSupported ? " (AVX-512)" : "")}, " +
            $"{host?.PhysicalCores}/{host?.LogicalCores} physical/logical cores; " +
            $"load average at start {loadStart}, at end {LoadAverage()}",
            $"- ours: {host?.Runtime ?? "?"}, BenchmarkDotNet {host?.BenchmarkDotNet ?? "?"} in-process, per round " +
            $"1 warm-up + {Iterations} iterations, median",
            $"- PyTorch: {(!torch ? "not measured" : torchInfo.Length > 0 ? torchInfo : "version not reported")}",
            $"- {rounds} round{(rounds == 1 ? "" : "s")}, ours and PyTorch alternately (order swapped each round), " +
            $"{clock.Elapsed.TotalMinutes:F1} min; " +
            "table values are medians over the rounds; ratio = speed ours ÷ PyTorch (for ms rows PyTorch ms ÷ ours ms)",
        };
        header.AddRange(notes.Select(note => $"- {note}"));
        string table = PeerReport.Table(results, header);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
        File.WriteAllText(outFile, table);
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine();
        Console.WriteLine($"peer: written to {outFile}; raw outputs in {work}");
        return results.Any(r => PeerRows.All.Any(row => !r.OursNs.ContainsKey(row.OursCase))) ? 1 : 0;
    }

    /// <summary>Our side of one round: a child process runs BenchmarkDotNet on the rows' cases and exports JSON.</summary>
    private static BdnReport? RunOurs(string dir, PeerRound round)
    {
        string dll = typeof(PeerRun).Assembly.Location;
        string host = Environment.ProcessPath ?? "dotnet";
        var childArgs = new List<string>();
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") childArgs.Add(dll);
        childArgs.AddRange([RoundFlag, "--filter", "*", "--launchCount", "1", "--warmupCount", "1",
            "--iterationCount", Iterations.ToString(CultureInfo.InvariantCulture), "--exporters", "json",
            "--artifacts", dir]);
        var (code, _) = Exec(host, childArgs, Path.Combine(dir, "ours.log"));
        if (code != 0) Console.WriteLine($"peer: our benchmarks exited with {code} (log: {Path.Combine(dir, "ours.log")})");
        BdnReport? report = null;
        var results = Path.Combine(dir, "results");
        foreach (var json in Directory.Exists(results) ? Directory.GetFiles(results, "*.json") : [])
        {
            report = PeerReport.ParseBdnJson(File.ReadAllText(json));
            foreach (var (key, ns) in report.MedianNs) round.OursNs[key] = ns;
        }
        foreach (var row in PeerRows.All.Where(r => !round.OursNs.ContainsKey(r.OursCase)))
            Console.WriteLine($"peer: no result for {row.OursCase}");
        return report;
    }

    /// <summary>The PyTorch side of one round: each peer script in turn; returns the extra peer's version line.</summary>
    private static string RunTorch(string python, List<string> peers, string dir, PeerRound round)
    {
        Directory.CreateDirectory(dir);
        string info = "";
        foreach (var peer in peers)
        {
            string log = Path.Combine(dir, Path.GetFileNameWithoutExtension(peer) + ".txt");
            var (code, output) = Exec(python, [peer], log);
            if (code != 0) Console.WriteLine($"peer: {peer} exited with {code} (log: {log})");
            foreach (var (key, value) in PeerReport.ParseTorch(output)) round.Torch[key] = value;
            if (PeerReport.Info(output, "torch") is { } version)
                info = $"torch {version}, {PeerReport.Info(output, "threads")} threads, BLAS {PeerReport.Info(output, "BLAS")}";
        }
        return info;
    }

    private static (int Code, string Output) Exec(string file, IEnumerable<string> args, string? log)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        var output = new StringBuilder();
        try
        {
            using var process = Process.Start(start)!;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.WaitForExit();
            return (process.ExitCode, Logged());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            output.AppendLine($"{file}: {e.Message}");
            return (127, Logged());
        }

        string Logged()
        {
            string text;
            lock (output) text = output.ToString();
            if (log is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(log)!);
                File.WriteAllText(log, text);
            }
            return text;
        }
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "AdvRobust.Native.sln"))) return dir.FullName;
        throw new InvalidOperationException("--peer runs from inside the repository (no AdvRobust.Native.sln above here)");
    }

    /// <summary>The short commit, with "+changes" when tracked files differ from it.</summary>
    private static string Commit(string root)
    {
        var (code, sha) = Exec("git", ["-C", root, "rev-parse", "--short", "HEAD"], null);
        if (code != 0) return "unknown";
        var (_, status) = Exec("git", ["-C", root, "status", "--porcelain", "--untracked-files=no"], null);
        return sha.Trim() + (status.Trim().Length > 0 ? "+changes" : "");
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg")
        ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))
        : "?";

    private static string? Option(string[] args, string name)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }
}
