namespace AdvRobust.Benchmarks.Peer;

/// <summary>How a row's value is shown: a rate (higher is faster) or a time (lower is faster).</summary>
public enum PeerUnit { ImagesPerSecond, GflopsPerSecond, Milliseconds }

/// <summary>
/// One row of the `bench --peer` table (issue 14): our benchmark case, as <see cref="Support.CaseKey"/> names it, with
/// the work per call that turns BenchmarkDotNet's median time into the row's unit (images or FLOPs; 0 for a time
/// row); the line of the PyTorch peer's output that carries the peer's figure (null: no peer figure); and the goal as
/// a minimum speed ratio ours ÷ PyTorch (null: no goal against PyTorch).
/// </summary>
public sealed record PeerRow(string Workload, PeerUnit Unit, string OursCase, double Work, string? TorchLine,
    double? Goal)
{
    public string UnitText => Unit switch
    {
        PeerUnit.ImagesPerSecond => "img/s",
        PeerUnit.GflopsPerSecond => "GFLOP/s",
        _ => "ms",
    };

    /// <summary>The row's value from a median time per call in nanoseconds.</summary>
    public double FromNanoseconds(double ns) => Unit == PeerUnit.Milliseconds ? ns / 1e6 : Work / (ns * 1e-9) /
        (Unit == PeerUnit.GflopsPerSecond ? 1e9 : 1);

    /// <summary>Ours ÷ PyTorch as a speed ratio: above 1 means ours is faster, whichever the unit.</summary>
    public double SpeedRatio(double ours, double torch) => Unit == PeerUnit.Milliseconds ? torch / ours : ours / torch;
}

/// <summary>The rows, from the table of issue 14, and the one ratio of ours to ours (mining ÷ distance).</summary>
public static class PeerRows
{
    public static readonly PeerRow[] All =
    [
        new("PGD-10 attack, small CNN, B=256", PeerUnit.ImagesPerSecond,
            "SmallCnnBenchmarks.PgdAttack(Batch=256x1x28x28, Device=cpu)", 256, "PGD-10 attack", 1.3),
        new("standard train step, small CNN, B=256", PeerUnit.ImagesPerSecond,
            "SmallCnnBenchmarks.TrainStep(Batch=256x1x28x28, Device=cpu)", 256, "standard train step", 1.3),
        new("PGD-10 AT step, small CNN, B=256", PeerUnit.ImagesPerSecond,
            "SmallCnnBenchmarks.AdversarialTrainStep(Batch=256x1x28x28, Device=cpu)", 256, "PGD-10 AT step", 1.3),
        new("CIFAR ResNet-18, eval, forward + input gradient, B=8", PeerUnit.Milliseconds,
            "ResNetGradientBenchmarks.ForwardInputGradient(Batch=8x3x32x32, Device=cpu)", 0,
            "ResNet-18 forward + input gradient B=8", 1.3),
        new("CIFAR ResNet-18, eval, forward + input gradient, B=32", PeerUnit.Milliseconds,
            "ResNetGradientBenchmarks.ForwardInputGradient(Batch=32x3x32x32, Device=cpu)", 0,
            "ResNet-18 forward + input gradient B=32", 1.3),
        new("SGEMM 1024³", PeerUnit.GflopsPerSecond,
            "GemmBenchmarks.Sgemm(Device=cpu, Shape=1024x1024x1024)", 2.0 * 1024 * 1024 * 1024, "SGEMM 1024^3", 1.0),
        new("pairwise distances 4096×4096×512, Euclidean (PyTorch: cdist)", PeerUnit.Milliseconds,
            "DistanceBenchmarks.Euclidean(Device=cpu, Size=4096x512)", 0, "cdist 4096x4096x512", 1.0),
        new("pairwise distances 1024×1024×512, angular", PeerUnit.Milliseconds,
            "DistanceBenchmarks.Angular(Device=cpu, Size=1024x512)", 0, null, null),
        new("batch-hard mining, angular, N=1024, D=512", PeerUnit.Milliseconds,
            "TripletMiningBenchmarks.BatchHard(Device=cpu, Size=1024x512)", 0, "batch-hard mining 1024x512", null),
    ];

    /// <summary>Mining time ÷ our own distance time at 1024×1024×512 (issue 14: at most 1.2).</summary>
    public static PeerRow Mining => All[^1];

    public static PeerRow MiningBaseline => All[^2];

    public const double MiningGoal = 1.2;
}
