using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// Convolution weights marked <see cref="ConvParams.ConstantWeight"/> (CpuBackend.WeightCache.cs): the CPU keeps the
/// packed W, packed Wᵀ and Winograd transforms it derives from them, per <see cref="Storage.Version"/>. A kept form
/// must give the bits of one derived afresh (forward and data gradient, im2col on one core per chunk and over all
/// cores, Winograd), be derived once and then reused, and be derived again after every kind of versioned write (an
/// SGD step, Ops.Copy, CopyIn, MarkStateWritten). A model's eval pass without parameter gradients sets the mark,
/// a training pass does not. Each test has its own CpuBackend, so the derivation counts are its own.
/// </summary>
public class ConstantWeightTests
{
    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    private static void AssertSameBits(float[] got, float[] want, string what)
    {
        Assert.That(got, Has.Length.EqualTo(want.Length), what);
        for (int e = 0; e < want.Length; e++)
            if (BitConverter.SingleToInt32Bits(got[e]) != BitConverter.SingleToInt32Bits(want[e]))
                Assert.Fail($"{what}: element {e} is {got[e]}, derived afresh {want[e]}");
    }

    /// <summary>Sgemm.RunPacked (A and B both packed, row bands over the cores, C cleared per band) gives Run's bits
    /// with alpha 1 and beta 0 on a C that held NaN, for M not a multiple of the 12-row panel and several K blocks.
    /// </summary>
    [Test]
    public void RunPacked_SameBitsAsRun([Values(0, 1, 2, 3)] int size, [Values(1, 2)] int maxThreads)
    {
        int[][] sizes = [[1, 3, 5], [13, 600, 33], [512, 700, 128], [250, 257, 70]];
        int m = sizes[size][0], k = sizes[size][1], n = sizes[size][2], ldc = n + 3;
        var rng = Rng();
        float[] a = rng.Uniform(m * k), b = rng.Uniform(k * n);
        float[] want = new float[m * n], got = new float[m * ldc];
        Sgemm.Run(a, false, b, false, want, m, n, k, 1f, 0f);
        var al = new Sgemm.PackedA(m, k);
        var packedA = new float[al.Length];
        al.Pack(a, false, packedA);
        var bl = new Sgemm.PackedB(k, n);
        var packedB = new float[bl.Length];
        for (int p = 0; p < k; p++)
        for (int j = 0; j < bl.PaddedN; j++)
            packedB[bl.Offset(p, j)] = j < n ? b[p * n + j] : 0f;
        Array.Fill(got, float.NaN);
        Sgemm.RunPacked(packedA, al, packedB, n, got, ldc, maxThreads);
        var rows = Enumerable.Range(0, m).SelectMany(i => got.AsSpan(i * ldc, n).ToArray()).ToArray();
        AssertSameBits(rows, want, $"{m}×{k}×{n} on {maxThreads} thread(s), seed {rng.Seed}");
        for (int i = 0; i < m; i++)
            Assert.That(got.AsSpan(i * ldc + n, 3).ToArray(), Has.All.NaN, $"row {i} past n is left alone");
    }

    /// <summary>(n, c, k, h, stride): a chunk per core (B = 32, 3×3 on 8×8), one chunk over all cores (B = 2, 512 → 40
    /// channels on 4×4, K not a multiple of 12), a strided 3×3 and a 1×1, and the Winograd path (16×16, 32+
    /// channels).</summary>
    private static readonly int[][] Shapes =
        [[32, 24, 20, 8, 1], [2, 512, 40, 4, 1], [3, 17, 30, 9, 2], [5, 64, 48, 7, 1], [2, 33, 40, 16, 1]];

    [Test]
    public void KeptForms_GiveTheBitsOfFreshOnes_DerivedOncePerVersion([Values(0, 1, 2, 3, 4)] int shape)
    {
        int n = Shapes[shape][0], c = Shapes[shape][1], k = Shapes[shape][2], h = Shapes[shape][3];
        int stride = Shapes[shape][4], r = shape == 3 ? 1 : 3;
        // Kept or not, the same algorithm (by default an unkept 4×4 plane keeps im2col, a kept one takes Winograd).
        var cpu = new CpuBackend { WinogradMinPixelsPerCall = 16 };
        var rng = Rng();
        var plain = new ConvParams(stride, r / 2);
        var kept = plain with { ConstantWeight = true };
        using var x = Tensor.FromArray(cpu, rng.Normal(n * c * h * h), n, c, h, h);
        using var w = Tensor.FromArray(cpu, rng.Normal(k * c * r * r, 0.2f), k, c, r, r);
        var yShape = Ops.Conv2dOutputShape(plain, x.Shape, w.Shape).Dims.ToArray();
        using var dy = Tensor.FromArray(cpu, rng.Normal(yShape.Aggregate(1, (p, d) => p * d)), yShape);

        (float[] Y, float[] Dx) Run(ConvParams p)
        {
            using var y = Tensor.Empty(cpu, DType.Float32, yShape);
            using var dx = Tensor.Empty(cpu, DType.Float32, n, c, h, h);
            cpu.Conv2dForward(p, x, w, y);
            cpu.Conv2dBackwardData(p, dy, w, dx);
            return (y.ToArray(), dx.ToArray());
        }

        var fresh = Run(plain);
        Assert.That(cpu.WeightDerivations, Is.Zero, "an unmarked weight keeps nothing");
        for (int pass = 0; pass < 2; pass++)
        {
            var got = Run(kept);
            AssertSameBits(got.Y, fresh.Y, $"y, pass {pass}, seed {rng.Seed}");
            AssertSameBits(got.Dx, fresh.Dx, $"dx, pass {pass}, seed {rng.Seed}");
            Assert.That(cpu.WeightDerivations, Is.EqualTo(2), $"pass {pass}: one form per direction, derived once");
        }

        // A versioned write: the next pass derives both forms again and convolves with the new weight.
        using (var other = Tensor.FromArray(cpu, rng.Normal(k * c * r * r, 0.2f), k, c, r, r)) Ops.Copy(other, w);
        fresh = Run(plain);
        var after = Run(kept);
        AssertSameBits(after.Y, fresh.Y, $"y after Ops.Copy into w, seed {rng.Seed}");
        AssertSameBits(after.Dx, fresh.Dx, $"dx after Ops.Copy into w, seed {rng.Seed}");
        Assert.That(cpu.WeightDerivations, Is.EqualTo(4), "both forms derived again after the write");
    }

    /// <summary>A CIFAR ResNet-18 (narrow) in eval mode: the first attack-style pass (no parameter gradients) derives
    /// every conv's forms, the second none; a training pass derives nothing and gives parameter gradients; after its
    /// SGD steps, a CopyIn and MarkStateWritten, the next eval pass derives again and its logits and input gradient
    /// are those of a fresh backend's first pass on the same state.</summary>
    [Test]
    public void ResNet_EvalPasses_ReuseTheForms_UntilAWrite()
    {
        var cpu = new CpuBackend();
        var rng = Rng();
        using var model = ModelZoo.Create("resnet18", cpu, 10, [3, 16, 16], [0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f],
            seed: 3);
        using var x = Tensor.FromArray(cpu, rng.Uniform(2 * 3 * 16 * 16, 0f, 1f), 2, 3, 16, 16);
        using var labels = Tensor.FromArray(cpu, new[] { 3, 7 }, 2);

        (float[] Logits, float[] Dx) Pass(bool parameterGradients)
        {
            using var tape = new Tape(cpu, parameterGradients);
            var input = tape.Input(x);
            var logits = model.Forward(tape, input).Logits;
            tape.Backward(F.Sum(tape, F.CrossEntropy(tape, logits, labels)));
            return (logits.Value.ToArray(), input.Grad!.ToArray());
        }

        model.Eval();
        var first = Pass(false);
        long derived = cpu.WeightDerivations;
        Assert.That(derived, Is.GreaterThanOrEqualTo(2 * 20), "ResNet-18 has 20 convolutions, two directions each");
        var second = Pass(false);
        Assert.That(cpu.WeightDerivations, Is.EqualTo(derived), "the second pass reuses every form");
        AssertSameBits(second.Logits, first.Logits, "logits of the second pass");
        AssertSameBits(second.Dx, first.Dx, "input gradient of the second pass");

        model.Train();
        var sgd = new Sgd(model, 0.05f);
        for (int step = 0; step < 2; step++)
        {
            model.ZeroGrad();
            Pass(true);
            sgd.Step();
        }
        Assert.That(cpu.WeightDerivations, Is.EqualTo(derived), "a training pass keeps nothing");
        Assert.That(model.Parameters().First().Grad, Is.Not.Null, "and takes parameter gradients");
        var firstConv = model.Parameters().First();
        cpu.CopyIn<float>(firstConv.Value.Storage, firstConv.Value.ToArray().Select(v => v * 1.5f).ToArray());
        model.MarkStateWritten();

        model.Eval();
        var afterWrites = Pass(false);
        Assert.That(cpu.WeightDerivations, Is.GreaterThan(derived), "the writes made the forms stale");
        // The same model state on a backend that has never kept a form: copy the state over, then one pass.
        var fresh = new CpuBackend();
        using var twin = ModelZoo.Create("resnet18", fresh, 10, [3, 16, 16], [0.5f, 0.5f, 0.5f],
            [0.25f, 0.25f, 0.25f], seed: 4);
        foreach (var ((_, from), (_, to)) in model.NamedParameters().Zip(twin.NamedParameters()))
            fresh.CopyIn<float>(to.Value.Storage, from.Value.ToArray());
        foreach (var ((_, from), (_, to)) in model.NamedBuffers().Zip(twin.NamedBuffers()))
            fresh.CopyIn<float>(to.Storage, from.ToArray());
        twin.Eval();
        using var tx = Tensor.FromArray(fresh, x.ToArray(), 2, 3, 16, 16);
        using var tl = Tensor.FromArray(fresh, new[] { 3, 7 }, 2);
        using var tape = new Tape(fresh, parameterGradients: false);
        var ti = tape.Input(tx);
        var tlogits = twin.Forward(tape, ti).Logits;
        tape.Backward(F.Sum(tape, F.CrossEntropy(tape, tlogits, tl)));
        AssertSameBits(afterWrites.Logits, tlogits.Value.ToArray(), "logits after the writes");
        AssertSameBits(afterWrites.Dx, ti.Grad!.ToArray(), "input gradient after the writes");
    }
}
