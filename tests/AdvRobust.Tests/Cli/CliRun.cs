namespace AdvRobust.Tests.Cli;

/// <summary>Runs `advrobust` in process and keeps what it wrote to stderr (the fixtures are non-parallel, so
/// swapping Console.Error is safe).</summary>
internal static class CliRun
{
    public static (int Code, string Error) Run(params string[] args)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            return (AdvRobust.Cli.Program.Main(args), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    /// <summary>Asserts exit code 2 (bad arguments or input), a message holding every fragment, and no stack trace
    /// or .NET type name.</summary>
    public static string AssertInvalid(string[] args, params string[] fragments)
    {
        var (code, error) = Run(args);
        Assert.That(code, Is.EqualTo(2), $"exit code of advrobust {string.Join(' ', args)}; stderr: {error}");
        foreach (string fragment in fragments) Assert.That(error, Does.Contain(fragment));
        Assert.That(error, Does.Not.Contain("System.").And.Not.Contain("   at "), "no .NET type names or stack trace");
        return error;
    }
}
