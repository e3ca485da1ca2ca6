using AdvRobust.Core;
using AdvRobust.Core.Graphs;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Emulator;

/// <summary>
/// CUDA graphs, the launch path and the upload ring on the emulator: a step of kernels, a cuBLAS GEMM and cuDNN
/// convolution passes captured once and replayed with new input contents equals eager execution bit for bit; refused
/// captures fall back to eager with the reason; graphs can be switched off; launches make no context query; uploads
/// never wait. Runs only with ADVROBUST_CUDA=emulator (the counters are the emulator's).
/// </summary>
[Category("Gpu")]
[Category("Emulator")]
public class GraphTests : EmulatorGraphFixture
{
    private static readonly ConvParams Conv = new(Stride: 1, Padding: 1);

    /// <summary>Inputs and outputs of the test step; they live across calls, as a step's buffers must.</summary>
    private sealed class StepBuffers : IDisposable
    {
        public readonly Tensor X, W, Fc, Logits, Dx, Dw;

        public StepBuffers(IBackend b, SeededRandom rng)
        {
            X = Tensor.Empty(b, DType.Float32, 3, 2, 7, 5);
            W = Tensor.FromArray(b, rng.Uniform(4 * 2 * 3 * 3), 4, 2, 3, 3);
            Fc = Tensor.FromArray(b, rng.Uniform(6 * 4 * 7 * 5), 6, 4 * 7 * 5);
            Logits = Tensor.Empty(b, DType.Float32, 3, 6);
            Dx = Tensor.Empty(b, DType.Float32, 3, 2, 7, 5);
            Dw = Tensor.Empty(b, DType.Float32, 4, 2, 3, 3);
        }

        /// <summary>conv → ReLU → GEMM, then the conv's backward data and filter passes with dy = relu(y)·2 (kernels,
        /// cuBLAS and cuDNN); temporaries are created and disposed inside.</summary>
        public void Step()
        {
            var b = X.Backend;
            using var y = Tensor.Empty(b, DType.Float32, 3, 4, 7, 5);
            using var r = Tensor.Empty(b, DType.Float32, 3, 4, 7, 5);
            Ops.Conv2dForward(Conv, X, W, y);
            Ops.Unary(UnaryOp.Relu, y, r);
            Ops.Gemm(r.View(3, 4 * 7 * 5), false, Fc, true, Logits);
            Ops.Axpby(1f, r, 1f, r);
            Ops.Conv2dBackwardData(Conv, r, W, Dx);
            Ops.Conv2dBackwardFilter(Conv, X, r, Dw);
        }

        public float[][] Outputs() => [Logits.ToArray(), Dx.ToArray(), Dw.ToArray()];

        public void Dispose()
        {
            foreach (var t in new[] { X, W, Fc, Logits, Dx, Dw }) t.Dispose();
        }
    }

    [Test]
    public void Step_CapturedAndReplayedWithNewInputs_EqualsEagerBitForBit()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.Name);
        using var buffers = new StepBuffers(Gpu, rng);
        using var graph = new StepGraph(Gpu, "test step");
        for (int call = 0; call < 5; call++)
        {
            var input = rng.Uniform(buffers.X.Length);
            Gpu.CopyIn<float>(buffers.X.Storage, input);
            buffers.Step();
            var eager = buffers.Outputs();
            Gpu.CopyIn<float>(buffers.X.Storage, input);
            foreach (var t in new[] { buffers.Logits, buffers.Dx, buffers.Dw }) Ops.Fill(t, float.NaN);
            EmulatorCounters.Reset();
            using (EmulatorCounters.Region("graph step")) graph.Run(buffers.Step);
            var got = buffers.Outputs();
            for (int i = 0; i < got.Length; i++)
                Assert.That(got[i], Is.EqualTo(eager[i]), $"call {call}, output {i}");
            var c = EmulatorCounters.Read("graph step");
            Assert.That(c.Syncs, Is.Zero, $"call {call}");
            Assert.That(c.DeviceToHostBytes, Is.Zero, $"call {call}");
            if (call >= 2)
            {
                Assert.That(c.GraphLaunches, Is.EqualTo(1), "a replay is one graph launch");
                Assert.That(c.KernelLaunches, Is.EqualTo(2), "ReLU and axpby, replayed as launches");
                Assert.That(c.LibraryCalls, Is.EqualTo(4), "the GEMM and three convolution passes, replayed");
                Assert.That(c.Allocations, Is.Zero, "graph memory keeps its addresses: no allocation per replay");
            }
        }
        Assert.That((graph.EagerRuns, graph.Captures, graph.Replays), Is.EqualTo((1, 1, 3)));
        Assert.That(graph.FallbackReason, Is.Null);
    }

    /// <summary>A library call recorded into a graph counts when the graph runs it, as a recorded kernel does: the
    /// call that captures the step and launches the graph counts what a warm eager step counts (its host-only queries
    /// and, once, the GEMM and three convolution passes), and a replay only the four passes.</summary>
    [Test]
    public void Capture_LibraryCallsCountOnceWhenTheGraphRunsThem()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.Name);
        using var buffers = new StepBuffers(Gpu, rng);
        using var graph = new StepGraph(Gpu, "test step");
        EmulatorCount Counted(Action step)
        {
            Gpu.CopyIn<float>(buffers.X.Storage, rng.Uniform(buffers.X.Length));
            EmulatorCounters.Reset();
            using (EmulatorCounters.Region("counted step")) step();
            return EmulatorCounters.Read("counted step");
        }
        Counted(() => graph.Run(buffers.Step));
        var captured = Counted(() => graph.Run(buffers.Step));
        var replayed = Counted(() => graph.Run(buffers.Step));
        var eager = Counted(buffers.Step);
        Assert.That((graph.EagerRuns, graph.Captures, graph.Replays), Is.EqualTo((1, 1, 1)));
        Assert.That((replayed.GraphLaunches, replayed.KernelLaunches, replayed.LibraryCalls), Is.EqualTo((1L, 2L, 4L)),
            "replayed");
        Assert.That((captured.GraphLaunches, captured.KernelLaunches, captured.LibraryCalls),
            Is.EqualTo((1L, eager.KernelLaunches, eager.LibraryCalls)),
            "captured and launched, against a warm eager step");
    }

    [Test]
    public void Capture_StepCopiesToHost_FallsBackToEagerWithTheReason()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.Name);
        using var x = Tensor.FromArray(Gpu, rng.Uniform(100), 100);
        using var y = Tensor.Empty(Gpu, DType.Float32, 100);
        float[] seen = [];
        var reports = new List<string>();
        using var graph = new StepGraph(Gpu, "reading step") { Report = reports.Add };
        void Step()
        {
            Ops.Unary(UnaryOp.Square, x, y);
            seen = y.ToArray();  // a device→host copy: cannot be part of a graph
        }
        for (int call = 0; call < 4; call++) graph.Run(Step);
        Assert.That(graph.FallbackReason, Does.Contain("CopyToHost").And.Contain("captured"));
        Assert.That(reports, Has.Count.EqualTo(1), "the reason is reported once");
        Assert.That((graph.EagerRuns, graph.Captures, graph.Replays), Is.EqualTo((4, 0, 0)));
        var expected = x.ToArray().Select(v => v * v).ToArray();
        Assert.That(seen, Is.EqualTo(expected));
    }

    [Test]
    public void Capture_InvalidatedByTheDriver_FallsBackToEagerNamingTheCall()
    {
        using var y = Tensor.Empty(Gpu, DType.Float32, 64);
        using var graph = new StepGraph(Gpu, "syncing step") { Report = _ => { } };
        int calls = 0;
        void Step()
        {
            Ops.Fill(y, ++calls);
            CudaDriver.cuCtxSynchronize();  // result ignored: the driver invalidates the capture on its own
        }
        for (int call = 0; call < 3; call++) graph.Run(Step);
        Assert.That(graph.FallbackReason, Does.Contain("CUDA_ERROR_STREAM_CAPTURE_INVALIDATED")
            .And.Contain("cuCtxSynchronize"));
        Assert.That(y.ToArray(), Is.All.EqualTo(4f), "the refused call ran again eagerly, and so did the next");
    }

    [Test]
    public void Capture_StepKeepsAnAllocation_IsRefusedButItsWorkIsDone()
    {
        using var graph = new StepGraph(Gpu, "leaky step") { Report = _ => { } };
        var kept = new List<Tensor>();
        void Step()
        {
            var t = Tensor.Empty(Gpu, DType.Float32, 16);
            Ops.Fill(t, 3f);
            kept.Add(t);
        }
        for (int call = 0; call < 3; call++) graph.Run(Step);
        Assert.That(graph.FallbackReason, Does.Contain("still alive"));
        Assert.That(kept.Select(t => t.ToArray()), Is.All.EqualTo(Enumerable.Repeat(3f, 16).ToArray()));
        Assert.That(kept, Has.Count.EqualTo(3), "the capturing call's work was launched once, not run again");
        foreach (var t in kept) t.Dispose();
    }

    [Test]
    public void Capture_StepFreesMemoryItDidNotAllocate_IsRefused()
    {
        using var graph = new StepGraph(Gpu, "freeing step") { Report = _ => { } };
        var outside = new Queue<Tensor>(Enumerable.Range(0, 3).Select(_ => Tensor.Zeros(Gpu, 8)));
        using var sum = Tensor.Zeros(Gpu, 8);
        void Step()
        {
            using var t = outside.Dequeue();
            Ops.Fill(t, 1f);
            Ops.Axpby(1f, t, 1f, sum);
        }
        for (int call = 0; call < 3; call++) graph.Run(Step);
        Assert.That(graph.FallbackReason, Does.Contain("allocated before it"));
        Assert.That(sum.ToArray(), Is.All.EqualTo(3f));
    }

    [Test]
    public void Capture_StreamReportsCapturingOnlyInsideTheStep()
    {
        using var graph = new StepGraph(Gpu);
        var seen = new List<(CUstreamCaptureStatus, bool)>();
        nint stream = Gpu.Context.Stream.DangerousGetHandle();
        for (int call = 0; call < 3; call++)
            graph.Run(() =>
            {
                CudaException.Check(CudaDriver.cuStreamIsCapturing(stream, out var status));
                seen.Add((status, Gpu.Context.IsCapturing));
            });
        CudaException.Check(CudaDriver.cuStreamIsCapturing(stream, out var after));
        Assert.That(seen, Is.EqualTo(new[]
        {
            (CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_NONE, false),
            (CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_ACTIVE, true),
        }), "host code runs on the eager and the capturing call only; a replay does not run it");
        Assert.That(after, Is.EqualTo(CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_NONE));
    }

    [Test]
    public void GraphMemory_AllocatedOnceAtCapture_KeptUntilTheGraphIsDisposed()
    {
        using var sum = Tensor.Zeros(Gpu, 8);
        var graph = new StepGraph(Gpu);
        void Step()
        {
            using var t = Tensor.Empty(Gpu, DType.Float32, 8);
            Ops.Fill(t, 1f);
            Ops.Axpby(1f, t, 1f, sum);
        }
        graph.Run(Step);
        EmulatorCounters.Reset();
        for (int call = 0; call < 3; call++) graph.Run(Step);
        var c = EmulatorCounters.Total;
        Assert.That((c.Allocations, c.Frees), Is.EqualTo((1L, 0L)),
            "the capture allocates once; the free inside the step hands the memory to the graph");
        Assert.That((c.GraphLaunches, c.KernelLaunches), Is.EqualTo((3L, 6L)));
        graph.Dispose();
        Assert.That(EmulatorCounters.Total.Frees, Is.EqualTo(1), "the graph's memory is released with it");
        Assert.That(sum.ToArray(), Is.All.EqualTo(4f));
    }

    [Test]
    public void GraphsOff_EveryCallRunsEagerly()
    {
        using var y = Tensor.Empty(Gpu, DType.Float32, 32);
        Gpu.Graphs.Enabled = false;
        try
        {
            using var graph = new StepGraph(Gpu);
            EmulatorCounters.Reset();
            for (int call = 0; call < 4; call++) graph.Run(() => Ops.Fill(y, 2f));
            Assert.That(graph.Enabled, Is.False);
            Assert.That((graph.EagerRuns, graph.Captures, graph.Replays), Is.EqualTo((4, 0, 0)));
            Assert.That(EmulatorCounters.Total.GraphLaunches, Is.Zero);
        }
        finally
        {
            Gpu.Graphs.Enabled = true;
        }
    }

    [Test]
    public void GraphsOff_ByEnvironment()
    {
        string? before = Environment.GetEnvironmentVariable("ADVROBUST_CUDA_GRAPHS");
        try
        {
            Environment.SetEnvironmentVariable("ADVROBUST_CUDA_GRAPHS", "0");
            Assert.That(new CudaGraphCapture(Gpu.Context).Enabled, Is.False);
            Environment.SetEnvironmentVariable("ADVROBUST_CUDA_GRAPHS", "1");
            Assert.That(new CudaGraphCapture(Gpu.Context).Enabled, Is.True);
        }
        finally
        {
            Environment.SetEnvironmentVariable("ADVROBUST_CUDA_GRAPHS", before);
        }
    }

    [Test]
    public void StepGraph_KeysByShape_CapturesOncePerKey()
    {
        using var a = Tensor.Empty(Gpu, DType.Float32, 10);
        using var b = Tensor.Empty(Gpu, DType.Float32, 20);
        using var graph = new StepGraph(Gpu);
        for (int call = 0; call < 3; call++)
        {
            graph.Run(10, () => Ops.Fill(a, 1f));
            graph.Run(20, () => Ops.Fill(b, 2f));
        }
        Assert.That((graph.EagerRuns, graph.Captures, graph.Replays), Is.EqualTo((2, 2, 2)));
        Assert.That(a.ToArray(), Is.All.EqualTo(1f));
        Assert.That(b.ToArray(), Is.All.EqualTo(2f));
        graph.Reset();
        graph.Run(10, () => Ops.Fill(a, 5f));
        Assert.That(graph.EagerRuns, Is.EqualTo(3), "after Reset a key starts over with an eager call");
        Assert.That(a.ToArray(), Is.All.EqualTo(5f));
    }

    [Test]
    public void Launch_AfterFirstUse_MakesNoContextQuery()
    {
        using var y = Tensor.Empty(Gpu, DType.Float32, 1000);
        Ops.Fill(y, 0f);
        EmulatorCounters.Reset();
        for (int i = 0; i < 20; i++) Ops.Fill(y, i);
        var c = EmulatorCounters.Total;
        Assert.That(c.KernelLaunches, Is.EqualTo(20));
        Assert.That(c.ContextQueries, Is.Zero, "no cuCtxGetCurrent/cuCtxSetCurrent per launch");
        Assert.That(y.ToArray(), Is.All.EqualTo(19f));
    }

    [Test]
    public void Upload_ThroughThePinnedRing_NeverSynchronizesEvenWhenItWraps()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.Name);
        // Larger than the whole ring: the chunks wrap around onto slots used by the same upload.
        long floats = (CudaContext.RingSlots + 2) * CudaContext.RingSlotBytes / sizeof(float) + 12345;
        var big = rng.Uniform(floats);
        var small = Enumerable.Range(0, 9).Select(_ => rng.Uniform(777)).ToArray();
        using var bigT = Tensor.Empty(Gpu, DType.Float32, (int)floats);
        var smallT = small.Select(_ => Tensor.Empty(Gpu, DType.Float32, 777)).ToArray();
        EmulatorCounters.Reset();
        using (EmulatorCounters.Region("uploads"))
        {
            Gpu.CopyIn<float>(bigT.Storage, big);
            for (int i = 0; i < small.Length; i++) Gpu.CopyIn<float>(smallT[i].Storage, small[i]);
        }
        var c = EmulatorCounters.Read("uploads");
        Assert.That(c.Syncs, Is.Zero, "an upload returns without waiting");
        Assert.That(c.HostToDeviceBytes, Is.EqualTo((floats + 9 * 777) * sizeof(float)));
        Assert.That(bigT.ToArray(), Is.EqualTo(big));
        for (int i = 0; i < small.Length; i++) Assert.That(smallT[i].ToArray(), Is.EqualTo(small[i]));
        foreach (var t in smallT) t.Dispose();
    }
}

/// <summary>StepGraph on a backend without graphs: every call runs the step eagerly.</summary>
public class StepGraphCpuTests
{
    [Test]
    public void Cpu_RunsEveryCallEagerly()
    {
        using var y = Tensor.Empty(Backends.Cpu, DType.Float32, 4);
        using var graph = new StepGraph(Backends.Cpu);
        int runs = 0;
        for (int call = 0; call < 3; call++) graph.Run(() => Ops.Fill(y, ++runs));
        Assert.That(graph.Enabled, Is.False);
        Assert.That((runs, graph.EagerRuns, graph.Captures), Is.EqualTo((3, 3, 0)));
        Assert.That(y.ToArray(), Is.All.EqualTo(3f));
    }
}
