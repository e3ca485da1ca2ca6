using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Graphs;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Models;
using AdvRobust.Tests.Nn;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>
/// The issue-13 primitives on CUDA: channel_fill (kernels/channel.cu) and device-to-device row copies against the CPU
/// twins, the fused cuDNN conv + bias + ReLU against the unfused GPU chain and the CPU, and (on the emulator, by its
/// counters) eval-mode batch norm as one launch per pass once its constants are cached, with nothing copied back.
/// Shape letters: x N×C×H×W, w K×C×R×R, y N×K×P×Q.
/// </summary>
[TestFixture, Category("Gpu")]
public class NnPrimitiveParityTests
{
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static void RequireEmulator()
    {
        if (!NativeLibraries.EmulatorSelected) Assert.Ignore("counts launches: needs ADVROBUST_CUDA=emulator");
    }

    [TestCase(1, 1, 1)]
    [TestCase(3, 7, 1)]
    [TestCase(5, 3, 37)]
    public void ChannelFill_AwkwardSizes_GpuMatchesCpuExactly(int n, int c, int l)
    {
        var rng = Rng();
        float[] v = rng.Normal(c);
        v[0] = -0f;
        float[] Run(IBackend be)
        {
            using var tv = Tensor.FromArray(be, v, c);
            using var y = Tensor.FromArray(be, Enumerable.Repeat(float.NaN, n * c * l).ToArray(), n, c, l);
            Ops.ChannelFill(tv, y);
            return y.ToArray();
        }
        float[] cpu = Run(Backends.Cpu), gpu = Run(_gpu);
        Assert.That(gpu.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(cpu.Select(BitConverter.SingleToInt32Bits)));
    }

    [Test]
    public void CopyRows_OnTheDevice_MatchesCpuWithoutCopyingBack()
    {
        var rng = Rng();
        float[] a = rng.Uniform(7 * 3 * 5), b = rng.Uniform(4 * 3 * 5);
        float[] Run(IBackend be)
        {
            using var ta = Tensor.FromArray(be, a, 7, 3, 5);
            using var tb = Tensor.FromArray(be, b, 4, 15);
            using var dst = Tensor.Zeros(be, 9, 3, 5);
            using (NativeLibraries.EmulatorSelected && be == _gpu ? EmulatorCounters.Region("copy-rows") : null)
            {
                Ops.CopyRows(ta, 2, dst, 0, 5);
                Ops.CopyRows(tb, 0, dst, 5, 4);
            }
            return dst.ToArray();
        }
        Assert.That(Run(_gpu), Is.EqualTo(Run(Backends.Cpu)));
        if (!NativeLibraries.EmulatorSelected) return;
        var c = EmulatorCounters.Read("copy-rows");
        Assert.That((c.DeviceToDeviceCopies, c.DeviceToDeviceBytes), Is.EqualTo((2L, 9L * 15 * 4)));
        Assert.That((c.KernelLaunches, c.DeviceToHostCopies, c.HostToDeviceCopies, c.Syncs), Is.EqualTo((0L, 0L, 0L, 0L)));
    }

    [TestCase(1, 1, 3)]
    [TestCase(2, 2, 5)]
    public void ConvBiasRelu_Fused_MatchesUnfusedGpuAndCpu(int stride, int pad, int r)
    {
        var rng = Rng();
        int[] xDims = [3, 5, 11, 9], wDims = [7, 5, r, r];
        float[] x = rng.Normal(3 * 5 * 11 * 9), w = rng.Normal(7 * 5 * r * r, 0.3f), b = rng.Uniform(7);
        var p = new ConvParams(stride, pad);
        int count = checked((int)Ops.Conv2dOutputShape(p, new Shape(xDims), new Shape(wDims)).Elements);
        float[] dy = rng.Uniform(count);
        var fused = NnPrimitiveTests.ConvBiasRelu(_gpu, p, x, xDims, w, wDims, b, dy, fused: true);
        var unfused = NnPrimitiveTests.ConvBiasRelu(_gpu, p, x, xDims, w, wDims, b, dy, fused: false);
        var cpu = NnPrimitiveTests.ConvBiasRelu(Backends.Cpu, p, x, xDims, w, wDims, b, dy, fused: true);
        double atol = 1e-4 * Math.Sqrt(5 * r * r);
        AssertClose.All(unfused.Y, fused.Y, atol, 1e-4, "y fused vs unfused (GPU)");
        AssertClose.All(cpu.Y, fused.Y, atol, 1e-4, "y GPU vs CPU");
        AssertClose.All(cpu.Dx, fused.Dx, atol, 1e-4, "dx");
        AssertClose.All(cpu.Dw, fused.Dw, 10 * atol, 1e-4, "dw");
        AssertClose.All(cpu.Db, fused.Db, 10 * atol, 1e-4, "db");
        AssertClose.All(unfused.Dw, fused.Dw, 10 * atol, 1e-4, "dw fused vs unfused (GPU)");
    }

    [Test]
    public void SmallCnn_FusedConvolutions_GpuLogitsMatchCpu()
    {
        var rng = Rng();
        float[] images = rng.Uniform(3 * 28 * 28, 0f, 1f);
        float[] Logits(IBackend be)
        {
            using var model = new SmallCnn(new ParameterInit(be, 3), 10, [1, 28, 28], [0.5f], [0.25f]);
            using var x = Tensor.FromArray(be, images, 3, 1, 28, 28);
            using var tape = new Tape(be, parameterGradients: false);
            model.Eval();
            return model.Forward(tape, tape.Constant(x)).Logits.Value.ToArray();
        }
        AssertClose.All(Logits(Backends.Cpu), Logits(_gpu), 1e-4, 1e-3, "SmallCnn logits");
    }

    [Test]
    public void BatchNormEval_AfterTheFirstPass_IsOneLaunchAndRecomputesAfterAStep()
    {
        RequireEmulator();
        var rng = Rng();
        using var bn = new BatchNorm2d(new ParameterInit(_gpu, 1), 6);
        using var x = Tensor.FromArray(_gpu, rng.Normal(2 * 6 * 5 * 5), 2, 6, 5, 5);
        float[]? first = null;
        for (int pass = 0; pass < 3; pass++)
        {
            using var tape = new Tape(_gpu, parameterGradients: false);
            bn.Eval();
            string region = $"bn-eval-{TestContext.CurrentContext.Test.ID}-{pass}";
            Variable y;
            using (EmulatorCounters.Region(region)) y = bn.Forward(tape, tape.Constant(x));
            var c = EmulatorCounters.Read(region);
            Assert.That(c.KernelLaunches, Is.EqualTo(pass == 0 ? 11 : 1), $"pass {pass}");
            Assert.That((c.DeviceToHostCopies, c.Syncs), Is.EqualTo((0L, 0L)), $"pass {pass}");
            first ??= y.Value.ToArray();
            Assert.That(y.Value.ToArray(), Is.EqualTo(first));
        }
        // A training step (train-mode forward and SGD) makes the next eval pass rebuild its constants.
        using (var tape = new Tape(_gpu))
        {
            bn.Train();
            var y = bn.Forward(tape, tape.Input(x));
            tape.Backward(F.Sum(tape, F.Mul(tape, y, y)));
            new Sgd(bn, 0.1f).Step();
        }
        using (var tape = new Tape(_gpu, parameterGradients: false))
        {
            bn.Eval();
            string region = $"bn-eval-{TestContext.CurrentContext.Test.ID}-after-step";
            Variable y;
            using (EmulatorCounters.Region(region)) y = bn.Forward(tape, tape.Constant(x));
            Assert.That(EmulatorCounters.Read(region).KernelLaunches, Is.EqualTo(11));
            using var reference = new Tape(_gpu, parameterGradients: false);
            var expected = F.BatchNorm(reference, reference.Constant(x), reference.Param(bn.Weight),
                reference.Param(bn.Bias), bn.RunningMean, bn.RunningVar, false, bn.Params);
            Assert.That(y.Value.ToArray(), Is.EqualTo(expected.Value.ToArray()));
            Assert.That(y.Value.ToArray(), Is.Not.EqualTo(first));
        }
    }

    /// <summary>
    /// A ResNet-18 eval forward (narrow, batch 2): the first pass builds each of the 20 batch norms' constants
    /// (10 launches each, what every pass cost before), later passes launch 200 fewer kernels.
    /// </summary>
    [Test]
    public void ResNet18Eval_SecondPass_Launches200FewerKernels()
    {
        RequireEmulator();
        var rng = Rng();
        using var model = new ResNet18(new ParameterInit(_gpu, 2), 10, [3, 8, 8], ModelZooTests.CifarMean,
            ModelZooTests.CifarStd, width: 4);
        using var x = Tensor.FromArray(_gpu, rng.Uniform(2 * 3 * 8 * 8, 0f, 1f), 2, 3, 8, 8);
        model.Eval();
        var launches = new long[3];
        var logits = new float[3][];
        for (int pass = 0; pass < 3; pass++)
        {
            using var tape = new Tape(_gpu, parameterGradients: false);
            string region = $"resnet-eval-{TestContext.CurrentContext.Test.ID}-{pass}";
            using (EmulatorCounters.Region(region)) logits[pass] = model.Forward(tape, tape.Constant(x)).Logits.Value.ToArray();
            launches[pass] = EmulatorCounters.Read(region).KernelLaunches;
        }
        TestContext.Out.WriteLine($"ResNet-18 eval forward launches: first pass {launches[0]}, then {launches[1]}");
        Assert.That(launches[0] - launches[1], Is.EqualTo(20 * 10));
        Assert.That(launches[2], Is.EqualTo(launches[1]));
        Assert.That(logits[1], Is.EqualTo(logits[0]));
        Assert.That(logits[2], Is.EqualTo(logits[0]));
    }

    /// <summary>
    /// An attack-mode step through the fused conv + bias + ReLU and a cached eval batch norm, then the sum's broadcast
    /// backward, captured as a CUDA graph and replayed with new inputs: bitwise what eager execution gives. (A replay
    /// does not look at the batch norm's cache: a graph captured before a parameter write keeps the old constants.)
    /// </summary>
    [Test]
    public void FusedConvAndCachedBatchNorm_CapturedStep_EqualsEagerBitForBit()
    {
        RequireEmulator();
        // A backend of its own with deterministic convolution algorithms, so eager and replayed runs match bitwise.
        using var gpu = CudaBackend.Create(deterministic: true);
        var rng = Rng();
        var init = new ParameterInit(gpu, 4);
        using var conv = new Conv2d(init, 2, 3, 3, padding: 1, bias: true);
        using var bn = new BatchNorm2d(init, 3);
        conv.Eval();
        bn.Eval();
        using var x = Tensor.Zeros(gpu, 2, 2, 6, 6);
        using var y = Tensor.Zeros(gpu, 2, 3, 6, 6);
        using var dx = Tensor.Zeros(gpu, 2, 2, 6, 6);
        void Step()
        {
            using var tape = new Tape(gpu, parameterGradients: false);
            var input = tape.Input(x);
            var h = bn.Forward(tape, conv.ForwardRelu(tape, input));
            tape.Backward(F.Sum(tape, F.Mul(tape, h, h)));
            Ops.Copy(h.Value, y);
            Ops.Copy(input.Grad!, dx);
        }
        using var graph = new StepGraph(gpu, "fused step");
        for (int call = 0; call < 4; call++)
        {
            float[] input = rng.Uniform(x.Length);
            gpu.CopyIn<float>(x.Storage, input);
            Step();
            float[] eagerY = y.ToArray(), eagerDx = dx.ToArray();
            gpu.CopyIn<float>(x.Storage, input);
            Ops.Fill(y, float.NaN);
            Ops.Fill(dx, float.NaN);
            graph.Run(Step);
            Assert.That(y.ToArray(), Is.EqualTo(eagerY), $"call {call}: y");
            Assert.That(dx.ToArray(), Is.EqualTo(eagerDx), $"call {call}: dx");
        }
        Assert.That((graph.EagerRuns, graph.Captures, graph.Replays), Is.EqualTo((1, 1, 2)));
        Assert.That(graph.FallbackReason, Is.Null);
    }
}
