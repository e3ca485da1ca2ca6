using System.CommandLine;
using System.CommandLine.Invocation;
using AdvRobust.Cli.Commands;
using AdvRobust.Research.Training;
using AdvRobust.Cuda;
using AdvRobust.Distributed;
using AdvRobust.Distributed.Interop;
using Spectre.Console;

namespace AdvRobust.Cli;

/// <summary>
/// `advrobust`: the command line. The library throws; only this layer turns exceptions into messages and exit codes:
/// 0 ok, 1 unexpected error, 2 bad arguments or input, 3 GPU or MPI stack unavailable or failing, 4 file system error,
/// 5 training diverged (NaN/Inf loss), 130 / 143 stopped by Ctrl-C (SIGINT) / SIGTERM after saving what it had
/// (train and the demo's training: a resumable checkpoint; certify: the points done), see <c>StopSignals</c>.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("AdvRobust.Native: adversarial robustness without a framework (CPU and CUDA backends)")
        {
            DemoCommand.Create(),
            DoctorCommand.Create(),
            KernelsCommand.Create(),
            EvalCommand.Create(),
            DetectCommand.Create(),
            ReportCommand.Create(),
            TrainCommand.Create(),
            CertifyCommand.Create(),
            ProxyCommand.Create(),
        };
        OptionRules.Apply(root);
        if (World.LaunchedRank != 0) Silence();
        try
        {
            var result = root.Parse(args);
            if (result.Action is ParseErrorAction) return ParseFailed(result);
            int code = result.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            World.Finish();
            return code;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>Bad command-line arguments: one line per fault in our words, where to find the usage, exit 2.
    /// (--help and --version win over other errors and exit 0.)</summary>
    private static int ParseFailed(ParseResult result)
    {
        foreach (string message in ParseErrors.Describe(result))
            Console.Error.WriteLine($"advrobust: invalid arguments: {message}");
        var names = new List<string>();
        for (Command? c = result.CommandResult.Command; c is not null and not RootCommand;
             c = c.Parents.OfType<Command>().FirstOrDefault())
            names.Insert(0, c.Name);
        Console.Error.WriteLine($"run 'advrobust {string.Join(' ', names.Append("--help"))}' for the usage");
        return 2;
    }

    internal static int Fail(Exception e)
    {
        var (code, kind) = e switch
        {
            TrainingDivergedException => (5, "training diverged"),
            ArgumentException or FormatException or InvalidDataException => (2, "invalid input"),
            MpiException => (3, "MPI"),
            CudaException or CublasException or CudnnException or NvrtcException or DllNotFoundException => (3, "GPU"),
            IOException or UnauthorizedAccessException => (4, "file system"),
            _ => (1, "error"),
        };
        string rank = World.IsDistributed ? $" (rank {World.Current.Rank})" : "";
        Console.Error.WriteLine($"advrobust{rank}: {kind}: {e.Message}");
        if (code == 1) Console.Error.WriteLine(e);
        // The other ranks would wait in their next collective for this one forever: end the whole job.
        if (World.IsDistributed) World.Current.Abort(code);
        return code;
    }

    /// <summary>Under mpirun, ranks other than 0 print nothing to stdout (errors still go to stderr): rank 0 reports
    /// for the job, and K copies of a progress bar would only garble the terminal.</summary>
    private static void Silence()
    {
        Console.SetOut(TextWriter.Null);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
    }
}
