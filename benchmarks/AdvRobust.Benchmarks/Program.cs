using AdvRobust.Benchmarks.Peer;
using AdvRobust.Benchmarks.Support;
using BenchmarkDotNet.Running;

namespace AdvRobust.Benchmarks;

/// <summary>
/// Entry point. `--smoke [--device cpu|cuda]` runs every case once and prints one line each (see
/// <see cref="Smoke"/>); `--peer [--rounds N]` compares with PyTorch (see <see cref="PeerRun"/>); anything else goes to
/// BenchmarkDotNet's switcher (--filter, --job, --list, ...), with `--peer-round` keeping only the peer rows' cases.
/// Returns 0 when every case ran, 1 when any case failed or a --filter matched nothing.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            if (args.Contains(Smoke.Flag)) return Smoke.Run(args);
            if (args.Contains(PeerRun.Flag)) return PeerRun.Run(args);
            bool peerRows = args.Contains(PeerRun.RoundFlag);
            args = args.Where(a => a != PeerRun.RoundFlag).ToArray();
            if (BenchDevices.CudaUnavailableReason is { } why) Console.WriteLine($"// cuda: not benchmarked ({why})");
            var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly)
                .Run(args, BenchConfig.Create(peerRows)).ToList();
            if (DeviceCeilings.KnownCopyBandwidthGBps is not null && BenchDevices.CudaBackend is { } cuda)
                Console.WriteLine($"// {DeviceCeilings.Describe(cuda)}");
            if (summaries.Count == 0 && args.Any(a => a is "--filter" or "-f") && !args.Any(IsInformational))
            {
                Console.Error.WriteLine("benchmarks: no benchmark matched the filter (see --list flat)");
                return 1;
            }
            bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
            return failed ? 1 : 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"benchmarks: {e}");
            return 1;
        }
        finally
        {
            BenchDevices.Shutdown();
        }
    }

    /// <summary>Switches that print something and run nothing, so an empty result is not a failure.</summary>
    private static bool IsInformational(string arg) => arg is "--list" or "--help" or "-h" or "--info" or "--version";
}
