using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// The primitives that spare the engine detours (issue 13), on the CPU reference: eval-mode batch norm from cached
// constants, the sum's backward as a broadcast, row ranges copied without the host, and conv + bias + ReLU as one op.
// Each must give bitwise what the path it replaces gives. Shape letters: x N×C×H×W, w K×C×R×R, y N×K×P×Q.
public class NnPrimitiveTests
{
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    /// <summary>A batch norm layer with random γ, β and running statistics (variance in [0.1, 2]).</summary>
    private static BatchNorm2d RandomBatchNorm(SeededRandom rng, int c)
    {
        var bn = new BatchNorm2d(new ParameterInit(Cpu, 7), c);
        Cpu.CopyIn<float>(bn.Weight.Value.Storage, rng.Uniform(c, 0.5f, 1.5f));
        Cpu.CopyIn<float>(bn.Bias.Value.Storage, rng.Uniform(c));
        Cpu.CopyIn<float>(bn.RunningMean.Storage, rng.Uniform(c));
        Cpu.CopyIn<float>(bn.RunningVar.Storage, rng.Uniform(c, 0.1f, 2f));
        return bn;
    }

    /// <summary>Output and the gradients of x, γ and β of one eval forward, through the layer (cached constants) or
    /// through F.BatchNorm (constants rebuilt on the tape, the path every eval pass took before).</summary>
    private static (float[] Y, float[] Dx, float[] Dgamma, float[] Dbeta) EvalPass(BatchNorm2d bn, float[] x,
        float[] dyWeights, int[] dims, bool cached)
    {
        using var tx = Tensor.FromArray(Cpu, x, dims);
        using var w = Tensor.FromArray(Cpu, dyWeights, dims);
        using var tape = new Tape(Cpu);
        bn.Eval();
        bn.ZeroGrad();
        var input = tape.Input(tx);
        var y = cached
            ? bn.Forward(tape, input)
            : F.BatchNorm(tape, input, tape.Param(bn.Weight), tape.Param(bn.Bias), bn.RunningMean, bn.RunningVar,
                false, bn.Params);
        tape.Backward(F.Sum(tape, F.Mul(tape, y, tape.Constant(w))));
        return (y.Value.ToArray(), input.Grad!.ToArray(), bn.Weight.Grad!.ToArray(), bn.Bias.Grad!.ToArray());
    }

    [Test]
    public void BatchNormEval_CachedConstants_BitwiseEqualToPerPassConstants()
    {
        var rng = Rng();
        int[] dims = [3, 5, 4, 3];
        using var bn = RandomBatchNorm(rng, 5);
        float[] x = rng.Normal(3 * 5 * 4 * 3), dy = rng.Uniform(3 * 5 * 4 * 3);
        var reference = EvalPass(bn, x, dy, dims, cached: false);
        for (int pass = 0; pass < 2; pass++)
        {
            var got = EvalPass(bn, x, dy, dims, cached: true);
            Assert.That(got.Y, Is.EqualTo(reference.Y), $"pass {pass}: y");
            Assert.That(got.Dx, Is.EqualTo(reference.Dx), $"pass {pass}: dx");
            Assert.That(got.Dgamma, Is.EqualTo(reference.Dgamma), $"pass {pass}: dγ");
            Assert.That(got.Dbeta, Is.EqualTo(reference.Dbeta), $"pass {pass}: dβ");
        }
        Assert.That(bn.EvalConstantComputations, Is.EqualTo(1), "the second eval pass must reuse the constants");
    }

    [Test]
    public void BatchNormEval_AfterEveryKindOfWrite_RecomputesTheConstants()
    {
        var rng = Rng();
        int[] dims = [4, 3, 2, 2];
        using var bn = RandomBatchNorm(rng, 3);
        float[] x = rng.Normal(48), dy = rng.Uniform(48);
        int expected = 0;
        void Check(string after)
        {
            var got = EvalPass(bn, x, dy, dims, cached: true);
            expected++;
            Assert.That(bn.EvalConstantComputations, Is.EqualTo(expected), $"recomputed after {after}");
            Assert.That(got.Y, Is.EqualTo(EvalPass(bn, x, dy, dims, cached: false).Y), $"y after {after}");
        }
        Check("the first eval pass");
        // An SGD step on γ (and β) after a backward.
        foreach (var p in bn.Parameters())
        {
            p.Momentum ??= Tensor.Zeros(Cpu, p.Value.Shape.Dims.ToArray());
            Ops.SgdStep(new SgdParams(0.5f), p.Value, p.Grad!, p.Momentum);
        }
        Check("an SGD step");
        // A training-mode forward moves the running statistics.
        using (var tape = new Tape(Cpu))
        using (var tx = Tensor.FromArray(Cpu, rng.Normal(48, 3f), dims))
        {
            bn.Train();
            bn.Forward(tape, tape.Constant(tx));
        }
        Check("a training-mode forward");
        // A checkpoint load writes through the backend's CopyIn.
        Cpu.CopyIn<float>(bn.RunningVar.Storage, rng.Uniform(3, 0.5f, 1f));
        Check("a CopyIn load");
        using (var beta = Tensor.FromArray(Cpu, rng.Uniform(3), 3)) Ops.Copy(beta, bn.Bias.Value);
        Check("an Ops.Copy into β");
        EvalPass(bn, x, dy, dims, cached: true);
        Assert.That(bn.EvalConstantComputations, Is.EqualTo(expected), "no write, no recomputation");
        bn.MarkStateWritten();  // what a trainer calls after replaying a captured step
        Check("MarkStateWritten");
    }

    [Test]
    public void SumBackward_Broadcast_BitwiseEqualToTheGemmAgainstOnes()
    {
        var rng = Rng();
        using var x = Tensor.FromArray(Cpu, rng.Normal(7 * 13), 7, 13);
        using var tape = new Tape(Cpu);
        var input = tape.Input(x);
        // g of the sum = −0.3 (through Scale): every element of dx must be exactly that.
        tape.Backward(F.Scale(tape, F.Sum(tape, input), -0.3f));
        float[] dx = input.Grad!.ToArray();
        using var ones = Tensor.FromArray(Cpu, Enumerable.Repeat(1f, 91).ToArray(), 91, 1);
        using var g = Tensor.FromArray(Cpu, new[] { -0.3f }, 1, 1);
        using var viaGemm = Tensor.Empty(Cpu, DType.Float32, 91, 1);
        Ops.Gemm(ones, false, g, false, viaGemm);
        Assert.That(dx, Is.EqualTo(viaGemm.ToArray()));
        Assert.That(input.Grad.Shape, Is.EqualTo(x.Shape));
    }

    [Test]
    public void ChannelFill_HandCase_BroadcastsPerChannel()
    {
        using var v = Tensor.FromArray(Cpu, new[] { 1.5f, -0f, float.NaN }, 3);
        using var y = Tensor.Empty(Cpu, DType.Float32, 2, 3, 2);
        Ops.ChannelFill(v, y);
        float[] got = y.ToArray();
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 2; l++)
            {
                Assert.That(got[n * 6 + l], Is.EqualTo(1.5f));
                Assert.That(BitConverter.SingleToInt32Bits(got[n * 6 + 2 + l]), Is.EqualTo(int.MinValue), "−0 kept");
                Assert.That(float.IsNaN(got[n * 6 + 4 + l]));
            }
        using var wrong = Tensor.Empty(Cpu, DType.Float32, 2);
        Assert.Throws<ArgumentException>(() => Ops.ChannelFill(wrong, y));
    }

    [Test]
    public void CopyRows_RealThenSynthetic_ConcatenatesOnTheBackend()
    {
        var rng = Rng();
        float[] real = rng.Uniform(3 * 2 * 2 * 2), synthetic = rng.Uniform(2 * 2 * 2 * 2);
        using var tr = Tensor.FromArray(Cpu, real, 3, 2, 2, 2);
        using var ts = Tensor.FromArray(Cpu, synthetic, 2, 2, 2, 2);
        using var batch = Tensor.Empty(Cpu, DType.Float32, 5, 2, 2, 2);
        Ops.CopyRows(tr, 0, batch, 0, 3);
        Ops.CopyRows(ts, 0, batch, 3, 2);
        Assert.That(batch.ToArray(), Is.EqualTo(real.Concat(synthetic).ToArray()));
        // A middle range, Int32 labels, and a flat pool filled block by block.
        using var labels = Tensor.FromArray(Cpu, new[] { 1, 2, 3, 4, 5 }, 5);
        using var picked = Tensor.FromArray(Cpu, new[] { 0, 0, 0 }, 3);
        Ops.CopyRows(labels, 1, picked, 1, 2);
        Assert.That(picked.ToArray<int>(), Is.EqualTo(new[] { 0, 2, 3 }));
        using var pool = Tensor.Empty(Cpu, DType.Float32, 5, 8);
        Ops.CopyRows(tr.View(3, 8), 0, pool, 0, 3);
        Ops.CopyRows(ts.View(2, 8), 0, pool, 3, 2);
        Assert.That(pool.ToArray(), Is.EqualTo(real.Concat(synthetic).ToArray()));
        Ops.CopyRows(tr, 3, batch, 5, 0);  // an empty range at the end is fine
    }

    [Test]
    public void CopyRows_BadRanges_ThrowNamingTheProblem()
    {
        using var a = Tensor.Zeros(Cpu, 4, 3);
        using var b = Tensor.Zeros(Cpu, 2, 3);
        using var c = Tensor.Zeros(Cpu, 2, 4);
        using var i = Tensor.FromArray(Cpu, new int[6], 2, 3);
        Assert.That(Assert.Throws<ArgumentException>(() => Ops.CopyRows(a, 3, b, 0, 2))!.Message, Does.Contain("src rows"));
        Assert.That(Assert.Throws<ArgumentException>(() => Ops.CopyRows(a, 0, b, 1, 2))!.Message, Does.Contain("dst rows"));
        Assert.That(Assert.Throws<ArgumentException>(() => Ops.CopyRows(a, 0, c, 0, 1))!.Message, Does.Contain("elements"));
        Assert.That(Assert.Throws<ArgumentException>(() => Ops.CopyRows(a, 0, i, 0, 1))!.Message, Does.Contain("Int32"));
        Assert.That(Assert.Throws<ArgumentException>(() => Ops.CopyRows(a, 0, a, 1, 2))!.Message, Does.Contain("overlap"));
        Assert.Throws<ArgumentException>(() => Ops.CopyRows(a, -1, b, 0, 1));
    }

    /// <summary>conv → bias → ReLU as three recorded ops, or as the fused one; output and the grads of x, w, b.</summary>
    internal static (float[] Y, float[] Dx, float[] Dw, float[] Db) ConvBiasRelu(IBackend be, ConvParams p, float[] x,
        int[] xDims, float[] w, int[] wDims, float[] b, float[] dyWeights, bool fused)
    {
        using var tx = Tensor.FromArray(be, x, xDims);
        using var tw = Tensor.FromArray(be, w, wDims);
        using var tb = Tensor.FromArray(be, b, wDims[0]);
        using var tape = new Tape(be);
        Variable vx = tape.Input(tx), vw = tape.Input(tw), vb = tape.Input(tb);
        var y = fused
            ? F.Conv2dBiasRelu(tape, vx, vw, vb, p)
            : F.Relu(tape, F.ChannelAffine(tape, F.Conv2d(tape, vx, vw, p), null, vb));
        using var weights = Tensor.FromArray(be, dyWeights, y.Shape.Dims.ToArray());
        tape.Backward(F.Sum(tape, F.Mul(tape, y, tape.Constant(weights))));
        return (y.Value.ToArray(), vx.Grad!.ToArray(), vw.Grad!.ToArray(), vb.Grad!.ToArray());
    }

    [TestCase(1, 1, 3)]
    [TestCase(2, 0, 5)]
    public void ConvBiasRelu_Fused_BitwiseEqualToTheUnfusedChainOnCpu(int stride, int pad, int r)
    {
        var rng = Rng();
        int[] xDims = [3, 4, 9, 7], wDims = [6, 4, r, r];
        float[] x = rng.Normal(3 * 4 * 9 * 7), w = rng.Normal(6 * 4 * r * r, 0.3f), b = rng.Uniform(6);
        var p = new ConvParams(stride, pad);
        int count = checked((int)Ops.Conv2dOutputShape(p, new Shape(xDims), new Shape(wDims)).Elements);
        float[] dy = rng.Uniform(count);
        var unfused = ConvBiasRelu(Cpu, p, x, xDims, w, wDims, b, dy, fused: false);
        var fused = ConvBiasRelu(Cpu, p, x, xDims, w, wDims, b, dy, fused: true);
        Assert.That(fused.Y.Count(v => v > 0), Is.InRange(1, count - 1), "ReLU must clip some values, not all");
        Assert.That(fused.Y, Is.EqualTo(unfused.Y));
        Assert.That(fused.Dx, Is.EqualTo(unfused.Dx));
        Assert.That(fused.Dw, Is.EqualTo(unfused.Dw));
        Assert.That(fused.Db, Is.EqualTo(unfused.Db));
    }

    [Test]
    public void Conv2dForwardRelu_WithAndWithoutBias_EqualsForwardThenRelu()
    {
        var rng = Rng();
        using var x = Tensor.FromArray(Cpu, rng.Normal(2 * 3 * 6 * 6), 2, 3, 6, 6);
        foreach (bool bias in new[] { true, false })
        {
            var conv = new Conv2d(new ParameterInit(Cpu, 5), 3, 4, 3, padding: 1, bias: bias);
            using var tape = new Tape(Cpu);
            var expected = F.Relu(tape, conv.Forward(tape, tape.Constant(x))).Value.ToArray();
            Assert.That(conv.ForwardRelu(tape, tape.Constant(x)).Value.ToArray(), Is.EqualTo(expected), $"bias {bias}");
            conv.Dispose();
        }
    }
}
