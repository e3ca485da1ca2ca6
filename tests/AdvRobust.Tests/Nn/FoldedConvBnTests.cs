using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Cpu.Diagnostics;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

/// <summary>
/// Eval-mode conv → batch norm → ReLU folded into one fused convolution (BatchNorm2d.ForwardReluAfter, FoldedConv)
/// on the CPU: where it applies (eval, a tape without parameter gradients), the output and the input gradient agree
/// with the unfolded chain to rounding (W·scale is rounded once: tolerance 1e-4 of the values' scale, where a wrong
/// channel, a missing shift or a stale W' is off by order 1); where it does not (training mode, a tape with parameter
/// gradients) the chain runs, so parameter gradients exist. W' is recomputed after every kind of write to the conv
/// weight or the batch norm's state, and not otherwise. Shape letters: x N×C×H×W, w K×C×3×3.
/// </summary>
public class FoldedConvBnTests
{
    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static (Conv2d Conv, BatchNorm2d Bn) RandomPair(IBackend backend, SeededRandom rng, int c, int k)
    {
        var init = new ParameterInit(backend, 11);
        var conv = new Conv2d(init, c, k, 3, 1, 1);
        var bn = new BatchNorm2d(init, k);
        backend.CopyIn<float>(bn.Weight.Value.Storage, rng.Uniform(k, 0.5f, 1.5f));
        backend.CopyIn<float>(bn.Bias.Value.Storage, rng.Uniform(k));
        backend.CopyIn<float>(bn.RunningMean.Storage, rng.Uniform(k, -0.3f, 0.3f));
        backend.CopyIn<float>(bn.RunningVar.Storage, rng.Uniform(k, 0.1f, 2f));
        conv.Eval();
        bn.Eval();
        return (conv, bn);
    }

    /// <summary>y and dL/dx for L = Σ y·weights, through ForwardReluAfter (folded when the tape allows) or the chain.
    /// </summary>
    private static (float[] Y, float[] Dx) Pass(IBackend backend, Conv2d conv, BatchNorm2d bn, float[] x,
        float[] weights, int[] dims, int k, bool folded, bool parameterGradients = false)
    {
        using var tx = Tensor.FromArray(backend, x, dims);
        using var w = Tensor.FromArray(backend, weights, dims[0], k, dims[2], dims[3]);
        using var tape = new Tape(backend, parameterGradients);
        var input = tape.Input(tx);
        var y = folded ? bn.ForwardReluAfter(tape, conv, input) : F.Relu(tape, bn.Forward(tape, conv.Forward(tape, input)));
        tape.Backward(F.Sum(tape, F.Mul(tape, y, tape.Constant(w))));
        return (y.Value.ToArray(), input.Grad!.ToArray());
    }

    private static void AssertClose(float[] got, float[] want, string what)
    {
        double scale = Math.Sqrt(want.Average(v => (double)v * v)) + 1e-6;
        double worst = got.Zip(want, (a, b) => Math.Abs((double)a - b)).Max();
        Assert.That(worst, Is.LessThanOrEqualTo(1e-4 * scale), $"{what}: max error {worst:G3} at RMS {scale:G3}");
    }

    // (n, c, k, h): odd sizes, K not a multiple of the SGEMM's 12-row panels; 16×16 with 32+ channels takes Winograd.
    [TestCase(3, 5, 7, 9)]
    [TestCase(2, 33, 40, 16)]
    public void Folded_MatchesTheChain_AndFusesTheLaunches(int n, int c, int k, int h)
    {
        var rng = Rng();
        var counting = new CountingBackend(CpuBackend.Instance);
        var (conv, bn) = RandomPair(counting, rng, c, k);
        using (conv)
        using (bn)
        {
            int[] dims = [n, c, h, h];
            float[] x = rng.Normal(n * c * h * h), weights = rng.Uniform(n * k * h * h);
            var chain = Pass(counting, conv, bn, x, weights, dims, k, folded: false);
            var before = counting.Snapshot();
            var folded = Pass(counting, conv, bn, x, weights, dims, k, folded: true);
            var after = counting.Snapshot();
            Assert.That(after.LaunchesOf("Conv2dBiasReluForward") - before.LaunchesOf("Conv2dBiasReluForward"),
                Is.EqualTo(1), "the folded pass is one fused convolution");
            Assert.That(after.LaunchesOf("Conv2dForward"), Is.EqualTo(before.LaunchesOf("Conv2dForward")),
                "and runs no plain convolution");
            AssertClose(folded.Y, chain.Y, "y");
            AssertClose(folded.Dx, chain.Dx, "dx");
            Assert.That(folded.Y.Count(v => v > 0), Is.InRange(folded.Y.Length / 5, folded.Y.Length * 4 / 5),
                "the ReLU should cut a fair share of the outputs (else the test checks little)");
        }
    }

    [Test]
    public void WhereParametersNeedGradients_TheChainRuns()
    {
        var rng = Rng();
        var (conv, bn) = RandomPair(CpuBackend.Instance, rng, 4, 6);
        using (conv)
        using (bn)
        {
            using var tx = Tensor.FromArray(CpuBackend.Instance, rng.Normal(2 * 4 * 5 * 5), 2, 4, 5, 5);
            foreach (bool train in new[] { false, true })
            {
                if (train) { conv.Train(); bn.Train(); }
                using var tape = new Tape(CpuBackend.Instance, parameterGradients: true);
                conv.ZeroGrad();
                var y = bn.ForwardReluAfter(tape, conv, tape.Constant(tx));
                tape.Backward(F.Sum(tape, y));
                Assert.That(conv.Weight.Grad, Is.Not.Null, $"train={train}: the conv weight needs its gradient");
                Assert.That(bn.FoldComputations, Is.Zero, $"train={train}: nothing folded");
            }
        }
    }

    [Test]
    public void AfterEveryKindOfWrite_RefoldsTheWeight_AndOnlyThen()
    {
        var rng = Rng();
        var cpu = CpuBackend.Instance;
        var (conv, bn) = RandomPair(cpu, rng, 5, 6);
        using (conv)
        using (bn)
        {
            int[] dims = [2, 5, 6, 6];
            float[] x = rng.Normal(2 * 5 * 36), weights = rng.Uniform(2 * 6 * 36);
            int expected = 0;
            void Check(string after)
            {
                var got = Pass(cpu, conv, bn, x, weights, dims, 6, folded: true);
                expected++;
                Assert.That(bn.FoldComputations, Is.EqualTo(expected), $"refolded after {after}");
                AssertClose(got.Y, Pass(cpu, conv, bn, x, weights, dims, 6, folded: false).Y, $"y after {after}");
            }
            Check("the first pass");
            Pass(cpu, conv, bn, x, weights, dims, 6, folded: true);
            Assert.That(bn.FoldComputations, Is.EqualTo(expected), "no write, no refold");
            // An SGD step on the conv weight (its gradient from a training-tape pass).
            Pass(cpu, conv, bn, x, weights, dims, 6, folded: false, parameterGradients: true);
            conv.Weight.Momentum ??= Tensor.Zeros(cpu, conv.Weight.Value.Shape.Dims.ToArray());
            Ops.SgdStep(new SgdParams(0.5f), conv.Weight.Value, conv.Weight.Grad!, conv.Weight.Momentum);
            Check("an SGD step on the conv weight");
            cpu.CopyIn<float>(bn.RunningVar.Storage, rng.Uniform(6, 0.5f, 1f));
            Check("a CopyIn of the running variance");
            using (var gamma = Tensor.FromArray(cpu, rng.Uniform(6, 0.5f, 2f), 6)) Ops.Copy(gamma, bn.Weight.Value);
            Check("an Ops.Copy into γ");
            cpu.CopyIn<float>(conv.Weight.Value.Storage, rng.Normal(6 * 5 * 9));
            Check("a CopyIn of the conv weight (checkpoint load)");
            bn.MarkStateWritten();
            Check("MarkStateWritten");
        }
    }
}
