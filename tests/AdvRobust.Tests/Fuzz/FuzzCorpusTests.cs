using AdvRobust.Fuzz;

namespace AdvRobust.Tests.Fuzz;

/// <summary>
/// The fuzz targets (tests/AdvRobust.Fuzz/Targets, compiled into this assembly without instrumentation) replayed on
/// the committed seed corpus and on every reproducer the fuzzer found, so found bugs stay fixed; and the contract
/// itself, which must flag what it is meant to flag.
/// </summary>
public class FuzzCorpusTests
{
    private static string FuzzDir(string kind) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fuzz", kind);

    private static IEnumerable<TestCaseData> Inputs(string kind)
    {
        string root = Path.Combine(AppContext.BaseDirectory, "fuzz", kind);
        if (!Directory.Exists(root)) yield break;
        foreach (string dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            foreach (string file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                yield return new TestCaseData(Path.GetFileName(dir), Path.GetFileName(file))
                    .SetName($"{kind}/{Path.GetFileName(dir)}/{Path.GetFileName(file)}");
    }

    private static IEnumerable<TestCaseData> Corpus() => Inputs("corpus");

    private static IEnumerable<TestCaseData> Reproducers() => Inputs("findings");

    [TestCaseSource(nameof(Corpus))]
    public void Replay_SeedCorpus_KeepsTheContract(string target, string file) =>
        FuzzContract.Check(FuzzTargets.Get(target), File.ReadAllBytes(Path.Combine(FuzzDir("corpus"), target, file)));

    [TestCaseSource(nameof(Reproducers))]
    public void Replay_FoundInput_KeepsTheContract(string target, string file) =>
        FuzzContract.Check(FuzzTargets.Get(target), File.ReadAllBytes(Path.Combine(FuzzDir("findings"), target, file)));

    [Test]
    public void Corpus_EveryTarget_HasSeedsAndEveryFolderATarget()
    {
        string[] folders = Directory.GetDirectories(FuzzDir("corpus")).Select(Path.GetFileName).Order().ToArray()!;
        Assert.That(folders, Is.EqualTo(FuzzTargets.All.Select(t => t.Name).Order().ToArray()));
        foreach (string folder in folders)
            Assert.That(Directory.GetFiles(Path.Combine(FuzzDir("corpus"), folder)), Is.Not.Empty, folder);
        if (Directory.Exists(FuzzDir("findings")))
            foreach (string dir in Directory.GetDirectories(FuzzDir("findings")))
                Assert.That(() => FuzzTargets.Get(Path.GetFileName(dir)), Throws.Nothing, dir);
    }

    [Test]
    public void Seeds_MadeByTheWriters_MatchTheCommittedCorpus()
    {
        string configs = Path.Combine(TestContext.CurrentContext.TestDirectory, "configs");
        foreach (var (target, name, bytes) in Seeds.All(configs))
        {
            string committed = Path.Combine(FuzzDir("corpus"), target, name);
            Assert.That(File.Exists(committed), Is.True, $"{committed} is missing: regenerate the corpus");
            FuzzContract.Check(FuzzTargets.Get(target), bytes);
        }
    }

    private static FuzzTarget Fake(FuzzAction run) => new("fake", "a test double", run);

    [Test]
    public void Check_BadInputWithMessage_IsNoFinding()
    {
        Assert.That(() => FuzzContract.Check(Fake(_ => throw new InvalidDataException("x.npy: truncated")), [1]),
            Throws.Nothing);
        Assert.That(() => FuzzContract.Check(Fake(_ => throw new FormatException("bad")), [1]), Throws.Nothing);
        Assert.That(() => FuzzContract.Check(Fake(_ => throw new ArgumentOutOfRangeException("k", "bad")), [1]),
            Throws.Nothing);
        Assert.That(() => FuzzContract.Check(Fake(_ => throw new EndOfStreamException("short")), [1]), Throws.Nothing);
    }

    [Test]
    public void Check_OtherExceptions_AreFindings()
    {
        Exception[] others = [new IndexOutOfRangeException(), new NullReferenceException(), new OverflowException(),
            new KeyNotFoundException("k"), new System.Text.Json.JsonException("j"), new InvalidOperationException("o")];
        foreach (var e in others)
            Assert.That(() => FuzzContract.Check(Fake(_ => throw e), [1]),
                Throws.TypeOf<FuzzFindingException>().With.InnerException.SameAs(e), e.GetType().Name);
    }

    [Test]
    public void Check_BadInputWithoutMessage_IsAFinding() =>
        Assert.That(() => FuzzContract.Check(Fake(_ => throw new InvalidDataException(" ")), [1]),
            Throws.TypeOf<FuzzFindingException>().With.Message.Contains("without a message"));

    [Test]
    public void Check_AllocationOutOfProportion_IsAFinding()
    {
        byte[]? kept = null;
        Assert.That(() => FuzzContract.Check(Fake(d => kept = new byte[FuzzContract.AllocationLimit(d.Length) + 1]),
            new byte[10]), Throws.TypeOf<FuzzFindingException>().With.Message.Contains("allocated"));
        Assert.That(() => FuzzContract.Check(Fake(d => kept = new byte[1 << 20]), new byte[10]), Throws.Nothing);
        GC.KeepAlive(kept);
    }
}
