using System.CommandLine;
using AdvRobust.Cli.Commands;
using AdvRobust.Research.Training;
using AdvRobust.Cuda;

namespace AdvRobust.Cli;

/// <summary>
/// `advrobust`: the command line. The library throws; only this layer turns exceptions into messages and exit codes:
/// 0 ok, 1 unexpected error, 2 bad arguments or input, 3 GPU stack unavailable or failing, 4 file system error,
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
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    internal static int Fail(Exception e)
    {
        var (code, kind) = e switch
        {
            TrainingDivergedException => (5, "training diverged"),
            ArgumentException or FormatException or InvalidDataException => (2, "invalid input"),
            CudaException or CublasException or CudnnException or NvrtcException or DllNotFoundException => (3, "GPU"),
            IOException or UnauthorizedAccessException => (4, "file system"),
            _ => (1, "error"),
        };
        Console.Error.WriteLine($"advrobust: {kind}: {e.Message}");
        if (code == 1) Console.Error.WriteLine(e);
        return code;
    }
}
