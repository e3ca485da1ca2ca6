using AdvRobust.Research.Training;

namespace AdvRobust.Tests.Training;

/// <summary>The training/evaluation subsets a data config cuts, and the commit id a manifest records.</summary>
public class RunDataAndGitTests
{
    private static DataConfig Data(string split, int eval, int? train = null) =>
        new() { Name = "synthetic", EvalSplit = split, EvalSize = eval, TrainSize = train };

    [Test]
    public void Subsets_TestSplit_FirstImagesOfEach()
    {
        var (train, test) = RunTestData.Splits();
        var d = TrainingData.From(Data("test", 10, train: 20), train, test);
        Assert.That((d.Train.N, d.Eval.N), Is.EqualTo((20, 10)));
        Assert.That(d.Train.Pixels, Is.EqualTo(train.Pixels.AsSpan(0, 20 * 64).ToArray()));
        Assert.That(d.Eval.Labels, Is.EqualTo(test.Labels[..10]));
        Assert.That(d.EvalDescription, Is.EqualTo("test images 0..9"));
    }

    [Test]
    public void Subsets_Holdout_LastTrainingImagesLeftOutOfTraining()
    {
        var (train, _) = RunTestData.Splits();
        var d = TrainingData.From(Data("holdout", 8), train, null);
        Assert.That((d.Train.N, d.Eval.N), Is.EqualTo((40, 8)));
        Assert.That(d.Eval.Pixels, Is.EqualTo(train.Pixels.AsSpan(40 * 64).ToArray()));
        Assert.That(d.EvalDescription, Does.Contain("40..47"));
    }

    [TestCase("holdout", 48, null, "leaves nothing to train on")]
    [TestCase("holdout", 8, 41, "data.trainSize 41 exceeds the 40")]
    [TestCase("test", 17, null, "data.evalSize 17 exceeds the 16 test images")]
    public void Subsets_TooLarge_ErrorNamesKey(string split, int eval, int? train, string message)
    {
        var (trainSplit, test) = RunTestData.Splits();
        var e = Assert.Throws<ArgumentException>(() => TrainingData.From(Data(split, eval, train), trainSplit, test))!;
        Assert.That(e.Message, Does.Contain(message));
    }

    [Test]
    public void Load_UnknownName_ListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => TrainingData.Load(new DataConfig { Name = "svhn" }))!;
        Assert.That(e.Message, Does.Contain("fashion-mnist, mnist, cifar10"));
    }

    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("advrobust-git-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private const string CommitA = "0123456789abcdef0123456789abcdef01234567";
    private const string CommitB = "89abcdef0123456789abcdef0123456789abcdef";

    [Test]
    public void GitCommit_LooseRefFromSubfolder_Found()
    {
        Directory.CreateDirectory(Path.Combine(_dir, ".git", "refs", "heads"));
        File.WriteAllText(Path.Combine(_dir, ".git", "HEAD"), "ref: refs/heads/main\n");
        File.WriteAllText(Path.Combine(_dir, ".git", "refs", "heads", "main"), CommitA + "\n");
        string sub = Directory.CreateDirectory(Path.Combine(_dir, "src", "x")).FullName;
        Assert.That(GitCommit.Find(sub), Is.EqualTo(CommitA));
    }

    [Test]
    public void GitCommit_WorktreeFileAndPackedRefs_Found()
    {
        string common = Path.Combine(_dir, "main", ".git");
        string worktreeGit = Path.Combine(common, "worktrees", "wt");
        Directory.CreateDirectory(worktreeGit);
        File.WriteAllText(Path.Combine(worktreeGit, "HEAD"), "ref: refs/heads/feature\n");
        File.WriteAllText(Path.Combine(worktreeGit, "commondir"), "../..\n");
        File.WriteAllText(Path.Combine(common, "packed-refs"),
            $"# pack-refs with: peeled fully-peeled sorted\n{CommitA} refs/heads/main\n{CommitB} refs/heads/feature\n");
        string wt = Directory.CreateDirectory(Path.Combine(_dir, "wt")).FullName;
        File.WriteAllText(Path.Combine(wt, ".git"), $"gitdir: {worktreeGit}\n");
        Assert.That(GitCommit.Find(wt), Is.EqualTo(CommitB));
    }

    [Test]
    public void GitCommit_DetachedHead_IsTheId()
    {
        Directory.CreateDirectory(Path.Combine(_dir, ".git"));
        File.WriteAllText(Path.Combine(_dir, ".git", "HEAD"), CommitB + "\n");
        Assert.That(GitCommit.Find(_dir), Is.EqualTo(CommitB));
    }

    [Test]
    public void GitCommit_NoRepositoryOrBrokenHead_Unknown()
    {
        string plain = Directory.CreateDirectory(Path.Combine(_dir, "plain")).FullName;
        Directory.CreateDirectory(Path.Combine(_dir, "broken", ".git"));
        File.WriteAllText(Path.Combine(_dir, "broken", ".git", "HEAD"), "ref: refs/heads/gone\n");
        Assert.That(GitCommit.Find(Path.Combine(_dir, "broken")), Is.EqualTo(GitCommit.Unknown));
        // /tmp is normally not inside a repository; if it were, the walk would find that one instead
        if (GitCommit.Find(Path.GetTempPath()) == GitCommit.Unknown)
            Assert.That(GitCommit.Find(plain), Is.EqualTo(GitCommit.Unknown));
    }

    [TestCase("1.0.0+" + CommitA, CommitA)]
    [TestCase("2.1.0-beta.1+" + CommitB, CommitB)]
    [TestCase("1.0.0", null)]
    [TestCase("1.0.0+07aec67", null)]
    [TestCase("1.0.0+" + CommitA + "x", null)]
    [TestCase("", null)]
    [TestCase(null, null)]
    public void GitCommit_FromInformationalVersion_TakesOnlyAFullId(string? version, string? expected) =>
        Assert.That(GitCommit.FromInformationalVersion(version), Is.EqualTo(expected));

    [Test]
    public void GitCommit_OfRunningCode_IsTheBuildStampWhereThereIsOne()
    {
        // Outside any checkout (this test's temp folder) the commit still comes from the build, when it has a stamp.
        string? stamp = GitCommit.OfBuild(typeof(GitCommit).Assembly);
        string saved = Directory.GetCurrentDirectory();
        try
        {
            Directory.SetCurrentDirectory(_dir);
            string commit = GitCommit.OfRunningCode();
            if (stamp is not null) Assert.That(commit, Is.EqualTo(stamp));
            else Assert.That(commit, Does.Match("^([0-9a-f]{40}|unknown)$"));
        }
        finally
        {
            Directory.SetCurrentDirectory(saved);
        }
        // Built inside a git checkout (CI's clone, a developer's tree), the suite carries the SDK's stamp.
        if (GitCommit.Find(TestContext.CurrentContext.TestDirectory) != GitCommit.Unknown)
            Assert.That(stamp, Does.Match("^[0-9a-f]{40}$"));
    }
}
