namespace AdvRobust.Tests.Cli;

/// <summary>Command-line parse errors exit 2 with one line per fault in our words; --help and --version exit 0.
/// No file is read: each case fails before a command runs.</summary>
[NonParallelizable]
public class ParseErrorTests
{
    private static readonly string[] Eval = ["eval", "--model", "m.safetensors", "--arch", "small-cnn", "--data", "x"];

    private static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData Case(string name, string[] args, params string[] fragments) =>
            new TestCaseData(args, fragments).SetName("Parse_" + name + "_ExitsTwoNamingTheFault");
        yield return Case("NonNumericEps", [.. Eval, "--eps", "abc"], "--eps: 'abc' is not a number");
        yield return Case("NegativeSeed", [.. Eval, "--eps", "0.1", "--seed", "-1"], "--seed: must be >= 0, got -1");
        yield return Case("NegativeEps", [.. Eval, "--eps", "-0.5"], "--eps: must be >= 0, got -0.5");
        yield return Case("NaNEps", [.. Eval, "--eps", "NaN"], "--eps: must be a finite number, got NaN");
        yield return Case("FractionalSteps", [.. Eval, "--eps", "0.1", "--steps", "2.5"],
            "--steps: '2.5' is not a whole number");
        yield return Case("HugeSteps", [.. Eval, "--eps", "0.1", "--steps", "99999999999"],
            "--steps: 99999999999 is too large (at most 2147483647)");
        yield return Case("NonIntegerSeed", [.. Eval, "--eps", "0.1", "--seed", "x"], "--seed: 'x' is not an integer");
        yield return Case("UnknownOption", [.. Eval, "--eps", "0.1", "--jsn", "r.json"],
            "unknown option --jsn (did you mean --json?)");
        yield return Case("UnknownOptionFarFromAll", [.. Eval, "--eps", "0.1", "--zzzzzz"], "unknown option --zzzzzz");
        yield return Case("UnknownCommand", ["evl"], "unknown command 'evl' (did you mean eval?)");
        yield return Case("NoCommand", [], "advrobust needs a command: demo");
        yield return Case("NoSubcommand", ["proxy"], "advrobust proxy needs a command: generate, rank, train");
        yield return Case("MissingRequiredOption", ["eval", "--arch", "small-cnn", "--data", "x", "--eps", "0.1"],
            "--model is required");
        yield return Case("OptionGivenTwice", [.. Eval, "--eps", "0.1", "--json", "a.json", "--json", "b.json"],
            "--json given twice");
        yield return Case("OptionWithoutValue", [.. Eval, "--eps"], "--eps needs a value");
        yield return Case("MissingArgument", ["report"], "advrobust report needs at least one <run-dir>");
        yield return Case("NegativeCertifyCount", ["certify", "--model", "m", "--arch", "small-cnn", "--data", "x",
            "--sigma", "0.25", "--out", "c.jsonl", "--n", "-5"], "--n: must be >= 0, got -5");
        yield return Case("NonNumericProxyThreshold", ["proxy", "train", "--config", "c.json", "--synthetic", "s.npz",
            "--threshold", "high"], "--threshold: 'high' is not a number");
    }

    [TestCaseSource(nameof(Cases))]
    public void Parse(string[] args, string[] fragments)
    {
        string error = CliRun.AssertInvalid(args, fragments);
        Assert.That(error, Does.Contain("--help' for the usage"));
    }

    [Test]
    public void Parse_SeveralFaults_ListsEachOnItsOwnLine()
    {
        string error = CliRun.AssertInvalid(["eval", "--eps"], "--model is required", "--arch is required",
            "--data is required", "--eps needs a value");
        int lines = error.Split('\n').Count(l => l.StartsWith("advrobust: invalid arguments: ", StringComparison.Ordinal));
        Assert.That(lines, Is.EqualTo(4));
    }

    [TestCase("--help")]
    [TestCase("--version")]
    public void Parse_HelpOrVersion_ExitsZero(string flag) =>
        Assert.That(CliRun.Run(flag).Code, Is.Zero);

    [Test]
    public void Parse_HelpWithAnUnknownOption_StillShowsHelpAndExitsZero() =>
        Assert.That(CliRun.Run("eval", "--help", "--nonsense").Code, Is.Zero);
}
