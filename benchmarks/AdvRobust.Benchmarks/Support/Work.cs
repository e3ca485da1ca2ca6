namespace AdvRobust.Benchmarks.Support;

public enum WorkUnit { Bytes, Flops, Images }

/// <summary>
/// What one launch of an op does, from the traffic or FLOP formula its benchmark class states once: bytes moved
/// (compulsory DRAM traffic, as in the kernel header) or floating-point operations (an FMA counts 2); or, for
/// model-level cases (an attack, a training step), the images it processes.
/// </summary>
public readonly record struct Work(WorkUnit Unit, double Amount)
{
    public static Work Bytes(double bytes) => new(WorkUnit.Bytes, bytes);

    public static Work Flops(double flops) => new(WorkUnit.Flops, flops);

    public static Work Images(int images) => new(WorkUnit.Images, images);

    /// <summary>Amount per second for one launch taking <paramref name="milliseconds"/>.</summary>
    public double PerSecond(double milliseconds) => Amount / (milliseconds * 1e-3);

    /// <summary>The rate with its unit: GB/s, img/s, or TFLOP/s from 1e12 FLOP/s up, else GFLOP/s (1 GB = 1e9 B).</summary>
    public string FormatRate(double milliseconds)
    {
        double rate = PerSecond(milliseconds);
        if (Unit == WorkUnit.Bytes) return $"{rate / 1e9:N1} GB/s";
        if (Unit == WorkUnit.Images) return $"{rate:N0} img/s";
        return rate >= 1e12 ? $"{rate / 1e12:N2} TFLOP/s" : $"{rate / 1e9:N1} GFLOP/s";
    }
}
