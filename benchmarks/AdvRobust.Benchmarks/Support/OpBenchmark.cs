using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Cuda;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks.Support;

/// <summary>
/// The shape every benchmark class follows (STYLE convention 14): a Device parameter ("cpu" always, "cuda" when a GPU
/// answers), buffers allocated in [GlobalSetup] and freed in [GlobalCleanup], and [Benchmark] methods that launch
/// and then synchronize. A class lists its ops once in <see cref="Launches"/>, each with the work its traffic or FLOP
/// formula gives; [GlobalSetup] records that work for the columns and, on the GPU, also times each op with CUDA
/// events after a warm-up (<see cref="GpuTimer"/>), outside BenchmarkDotNet's measured region.
/// The CPU rows are the reference: the "vs CPU" column divides the cpu row's time by each row's time.
/// </summary>
public abstract class OpBenchmark
{
    private readonly List<IDisposable> _owned = [];

    [ParamsSource(nameof(DeviceNames))]
    public string Device { get; set; } = BenchDevices.Cpu;

    public static IEnumerable<string> DeviceNames => BenchDevices.Names;

    protected IBackend Backend { get; private set; } = CpuBackend.Instance;

    [GlobalSetup]
    public void GlobalSetup()
    {
        Backend = BenchDevices.Open(Device);
        Allocate();
        Backend.Synchronize();
        foreach (var op in Launches())
        {
            double? gpuMs = Backend is CudaBackend cuda ? GpuTimer.MedianMs(cuda, op.Launch) : null;
            Measurements.Record(CaseKey.For(this, op.Method), new CaseRecord(op.Work, gpuMs));
        }
        if (Backend is CudaBackend gpu) DeviceCeilings.CopyBandwidthGBps(gpu);
        Backend.Synchronize();
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        Backend.Synchronize();
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }

    /// <summary>Allocates and fills this case's buffers on <see cref="Backend"/> (use <see cref="Own"/>).</summary>
    protected abstract void Allocate();

    /// <summary>One entry per [Benchmark] method: its name, work per launch and launch.</summary>
    protected abstract IEnumerable<BenchOp> Launches();

    /// <summary>The body of every [Benchmark] method: launch, then wait (kernels are asynchronous).</summary>
    protected void LaunchAndWait(Action launch)
    {
        launch();
        Backend.Synchronize();
    }

    /// <summary>Registers a buffer (a tensor, mining outputs) to be freed in [GlobalCleanup].</summary>
    protected T Own<T>(T buffer) where T : IDisposable
    {
        _owned.Add(buffer);
        return buffer;
    }

    /// <summary>A tensor of seeded uniform values in [lo, hi), generated on the host and copied in.</summary>
    protected Tensor Uniform(int seed, float lo, float hi, params int[] dims)
    {
        var rng = new Random(seed);
        var data = new float[new Shape(dims).Elements];
        for (long i = 0; i < data.LongLength; i++) data[i] = lo + (hi - lo) * rng.NextSingle();
        return Own(Tensor.FromArray(Backend, data, dims));
    }

    /// <summary>n seeded class labels in [0, classes).</summary>
    protected Tensor Labels(int seed, int classes, int n)
    {
        var rng = new Random(seed);
        var data = new int[n];
        for (int i = 0; i < n; i++) data[i] = rng.Next(classes);
        return Own(Tensor.FromArray(Backend, data, n));
    }

    /// <summary>An uninitialized tensor on <see cref="Backend"/>, freed in [GlobalCleanup].</summary>
    protected Tensor Empty(DType dtype, params int[] dims) => Own(Tensor.Empty(Backend, dtype, dims));
}
