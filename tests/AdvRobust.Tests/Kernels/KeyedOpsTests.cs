using AdvRobust.Core;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Kernels;

/// <summary>
/// The keyed ops (Philox key and learning rate read from device memory, for a captured training step) compute exactly
/// what their argument-keyed twins compute with the same values, on each backend, bit for bit: crop and flip, PGD's
/// random start (l-inf and l2) with shuffled sample ids (row s = the argument-keyed row of sample first + ids[s]),
/// Gaussian noise with ids, and SGD. Awkward sizes; the CUDA fixture runs on a device or the emulator.
/// </summary>
[TestFixture("cpu")]
[TestFixture("cuda", Category = "Gpu")]
public class KeyedOpsTests(string backendName)
{
    private IBackend _backend = null!;

    [OneTimeSetUp]
    public void Open() => _backend = backendName == "cpu" ? Backends.Cpu : Backends.CudaOrIgnore();

    private const ulong Seed = 0x1234_5678_9ABC_DEF1UL;

    [Test]
    public void RandomCropFlip_Keyed_EqualsArgumentKeyed()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int[] dims = [5, 3, 7, 6];
        using var x = Tensor.FromArray(_backend, rng.Normal(5 * 3 * 7 * 6), dims);
        using var expected = Tensor.Empty(_backend, DType.Float32, dims);
        using var actual = Tensor.Empty(_backend, DType.Float32, dims);
        using var key = new DeviceKey(_backend);
        Ops.RandomCropFlip(x, expected, 2, true, Seed, 3, 41);
        key.Set(Seed, 3, 41);
        Ops.RandomCropFlip(x, actual, 2, true, key);
        Assert.That(Bits(actual), Is.EqualTo(Bits(expected)));
    }

    [TestCase(PgdNorm.Linf)]
    [TestCase(PgdNorm.L2)]
    public void PgdRandomStart_KeyedWithIds_EqualsEachSampleArgumentKeyed(PgdNorm norm)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int[] ids = [17, 3, 250, 4, 5];
        const int d = 2 * 5 * 3;
        var p = new PgdParams(Alpha: 0f, Eps: 0.1f, Lo: 0f, Hi: 1f);
        float[] x0s = rng.Uniform(ids.Length * d, 0f, 1f);
        using var x0 = Tensor.FromArray(_backend, x0s, ids.Length, 2, 5, 3);
        using var actual = Tensor.Empty(_backend, DType.Float32, ids.Length, 2, 5, 3);
        using var deviceIds = Tensor.FromArray(_backend, ids, ids.Length);
        using var key = new DeviceKey(_backend);
        key.Set(Seed, 2, 1000);
        Ops.PgdRandomStart(norm, actual, x0, p, key, deviceIds);
        var got = Bits(actual);
        for (int s = 0; s < ids.Length; s++)
        {
            using var row0 = Tensor.FromArray(_backend, x0s.AsSpan(s * d, d).ToArray(), 1, 2, 5, 3);
            using var row = Tensor.Empty(_backend, DType.Float32, 1, 2, 5, 3);
            Ops.PgdRandomStart(norm, row, row0, p, Seed, 2, 1000 + (uint)ids[s]);
            Assert.That(got.AsSpan(s * d, d).ToArray(), Is.EqualTo(Bits(row)), $"row {s} (sample {ids[s]})");
        }
    }

    [Test]
    public void GaussianNoise_KeyedWithIds_EqualsArgumentKeyed()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int[] ids = [9, 2, 77, 40];
        using var x = Tensor.FromArray(_backend, rng.Normal(4 * 37), 4, 37);
        using var deviceIds = Tensor.FromArray(_backend, ids, 4);
        using var expected = Tensor.Empty(_backend, DType.Float32, 4, 37);
        using var actual = Tensor.Empty(_backend, DType.Float32, 4, 37);
        using var key = new DeviceKey(_backend);
        Ops.GaussianNoise(x, expected, 0.3f, Seed, 5, deviceIds);
        key.Set(Seed, 5);
        Ops.GaussianNoise(x, actual, 0.3f, key, deviceIds);
        Assert.That(Bits(actual), Is.EqualTo(Bits(expected)));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void SgdStep_LearningRateFromDevice_EqualsArgument(bool nesterov)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] w = rng.Normal(1031), g = rng.Normal(1031), m = rng.Normal(1031);
        var p = new SgdParams(0.037f, 0.9f, 5e-4f, nesterov);
        using var w1 = Tensor.FromArray(_backend, w, w.Length);
        using var m1 = Tensor.FromArray(_backend, m, m.Length);
        using var w2 = Tensor.FromArray(_backend, w, w.Length);
        using var m2 = Tensor.FromArray(_backend, m, m.Length);
        using var grad = Tensor.FromArray(_backend, g, g.Length);
        using var lr = Tensor.FromArray(_backend, [0.037f], 1);
        Ops.SgdStep(p, w1, grad, m1);
        Ops.SgdStep(p with { LearningRate = 99f }, lr, w2, grad, m2);
        Assert.That(Bits(w2), Is.EqualTo(Bits(w1)), "parameters");
        Assert.That(Bits(m2), Is.EqualTo(Bits(m1)), "momentum");
    }

    [Test]
    public void Sgd_UpdateWithDeviceLearningRate_EqualsStep()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] w = rng.Normal(3 * 4), g = rng.Normal(3 * 4);
        using var a = new OneLayer(_backend, w, g);
        using var b = new OneLayer(_backend, w, g);
        var stepped = new Sgd(a, 0.05f, momentum: 0.9f, weightDecay: 1e-3f);
        var updated = new Sgd(b, 0.05f, momentum: 0.9f, weightDecay: 1e-3f);
        using var lr = Tensor.FromArray(_backend, [updated.LearningRate], 1);
        for (int i = 0; i < 2; i++)
        {
            stepped.Step();
            updated.Update(lr);
            updated.Advance();
        }
        Assert.That(updated.Iteration, Is.EqualTo(stepped.Iteration));
        Assert.That(Bits(b.Weight.Value), Is.EqualTo(Bits(a.Weight.Value)));
        Assert.That(Bits(b.Weight.Momentum!), Is.EqualTo(Bits(a.Weight.Momentum!)));
    }

    private static int[] Bits(Tensor t) => t.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>A module with one 3×4 parameter and a fixed gradient.</summary>
    private sealed class OneLayer : AdvRobust.Core.Nn.Module
    {
        public OneLayer(IBackend backend, float[] w, float[] g)
        {
            Weight = RegisterParameter("w", Tensor.FromArray(backend, w, 3, 4));
            using var grad = Tensor.FromArray(backend, g, 3, 4);
            Weight.AccumulateGrad(grad);
        }

        public AdvRobust.Core.Autograd.Parameter Weight { get; }
    }
}
