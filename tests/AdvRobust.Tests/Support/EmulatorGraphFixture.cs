using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Models;

namespace AdvRobust.Tests.Support;

/// <summary>
/// The fixture of the step-graph tests on the CUDA emulator (attacks, training steps): one CUDA backend per fixture
/// with deterministic convolution algorithms, so that runs with graphs on and off can match bit for bit; the fixture
/// is ignored unless ADVROBUST_CUDA=emulator selects the emulator (its counters are what the tests read). Helpers: a
/// run with graphs switched on or off, the narrow ResNet-18 the tests attack and train, and counter differences.
/// </summary>
public abstract class EmulatorGraphFixture
{
    protected CudaBackend Gpu { get; private set; } = null!;

    [OneTimeSetUp]
    public void OpenBackend()
    {
        if (!NativeLibraries.EmulatorSelected) Assert.Ignore("needs the CUDA emulator: ADVROBUST_CUDA=emulator");
        Backends.CudaOrIgnore();
        Gpu = CudaBackend.Create(deterministic: true);
    }

    [OneTimeTearDown]
    public void CloseBackend() => Gpu?.Dispose();

    /// <summary>Runs <paramref name="run"/> with step graphs on or off, then restores the setting.</summary>
    protected T WithGraphs<T>(bool graphs, Func<T> run)
    {
        bool before = Gpu.Graphs.Enabled;
        Gpu.Graphs.Enabled = graphs;
        try
        {
            return run();
        }
        finally
        {
            Gpu.Graphs.Enabled = before;
        }
    }

    /// <summary>A ResNet-18 of width 4 for 3×8×8 CIFAR-normalized images, 10 classes (cuDNN convolutions, batch norm,
    /// GEMM), initialized from <paramref name="seed"/>.</summary>
    protected ResNet18 NarrowResNet(ulong seed) =>
        new(new ParameterInit(Gpu, seed), 10, [3, 8, 8], ModelZooTests.CifarMean, ModelZooTests.CifarStd, width: 4);

    /// <summary>The emulator's counts from <paramref name="b"/> to <paramref name="a"/>.</summary>
    public static EmulatorCount Minus(EmulatorCount a, EmulatorCount b) => new(
        a.KernelLaunches - b.KernelLaunches, a.LibraryCalls - b.LibraryCalls,
        a.HostToDeviceCopies - b.HostToDeviceCopies, a.HostToDeviceBytes - b.HostToDeviceBytes,
        a.DeviceToHostCopies - b.DeviceToHostCopies, a.DeviceToHostBytes - b.DeviceToHostBytes,
        a.DeviceToDeviceCopies - b.DeviceToDeviceCopies, a.DeviceToDeviceBytes - b.DeviceToDeviceBytes,
        a.Memsets - b.Memsets, a.StreamSyncs - b.StreamSyncs, a.ContextSyncs - b.ContextSyncs,
        a.EventSyncs - b.EventSyncs, a.Allocations - b.Allocations, a.AllocatedBytes - b.AllocatedBytes,
        a.Frees - b.Frees, a.GraphLaunches - b.GraphLaunches, a.ContextQueries - b.ContextQueries,
        a.GraphKernelLaunches - b.GraphKernelLaunches);
}
