using AdvRobust.Cuda;

namespace AdvRobust.Benchmarks.Support;

/// <summary>
/// GPU time by CUDA events, not host time: record an event on the backend's stream, enqueue K launches, record a
/// second event, and divide the elapsed time by K; repeat and take the median. K is chosen so that one repetition
/// covers about <see cref="TargetMs"/> of GPU work, which hides the events' resolution. A kernel that takes less GPU
/// time than the host needs to enqueue one launch measures the launch rate instead, so its time is an upper bound.
/// </summary>
public static class GpuTimer
{
    public const int WarmupLaunches = 3;
    public const int Repetitions = 9;
    public const double TargetMs = 20;
    public const int MaxLaunches = 2000;

    /// <summary>Median GPU milliseconds per launch of <paramref name="launch"/>.</summary>
    public static double MedianMs(CudaBackend backend, Action launch)
    {
        var context = backend.Context;
        context.MakeCurrent();
        // Warm-up: NVRTC compilation or cache load, cuBLAS workspace, memory-pool growth all happen here.
        for (int i = 0; i < WarmupLaunches; i++) launch();
        backend.Synchronize();

        using var start = CudaEventHandle.Create(context.Handle);
        using var end = CudaEventHandle.Create(context.Handle);
        double Time(int launches)
        {
            start.Record(context.Stream);
            for (int i = 0; i < launches; i++) launch();
            end.Record(context.Stream);
            return CudaEventHandle.ElapsedMilliseconds(start, end);
        }

        double single = Time(1);
        int k = (int)Math.Clamp(Math.Ceiling(TargetMs / Math.Max(single, 1e-3)), 1, MaxLaunches);
        var perLaunch = new double[Repetitions];
        for (int r = 0; r < Repetitions; r++) perLaunch[r] = Time(k) / k;
        Array.Sort(perLaunch);
        return perLaunch[Repetitions / 2];
    }
}
