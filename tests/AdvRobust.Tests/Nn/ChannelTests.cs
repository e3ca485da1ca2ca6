using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// ChannelAffine and ChannelSum over axis 1. Shape letters: x N×C×... (L = product of the trailing axes).
// ChannelAffine has no backward op of its own: its rule in Derivatives is ChannelAffine (dx = g·scale) plus ChannelSum
// (dscale = Σ g·x, dshift = Σ g), so its gradient is checked through the tape.
public class ChannelTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void ChannelAffine_HandCase_ScalesAndShiftsEachChannel()
    {
        // N = 2, C = 2, L = 2: channel 0 → 2x + 1, channel 1 → −x + 10.
        using var x = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, 2, 2);
        using var scale = Tensor.FromArray(Cpu, new float[] { 2, -1 }, 2);
        using var shift = Tensor.FromArray(Cpu, new float[] { 1, 10 }, 2);
        using var y = Tensor.Empty(Cpu, DType.Float32, 2, 2, 2);
        Ops.ChannelAffine(x, scale, shift, y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 3, 5, 7, 6, 11, 13, 3, 2 }));
        Ops.ChannelAffine(x, null, shift, y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 2, 3, 13, 14, 6, 7, 17, 18 }));
        Ops.ChannelAffine(x, scale, null, y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 2, 4, -3, -4, 10, 12, -7, -8 }));
        Ops.ChannelAffine(x, null, null, y);
        Assert.That(y.ToArray(), Is.EqualTo(x.ToArray()));
    }

    [Test]
    public void ChannelAffine_InPlaceRank2_AddsBiasPerColumn()
    {
        // N×C rows (a Linear layer's output): the bias goes to each column.
        using var x = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var shift = Tensor.FromArray(Cpu, new float[] { 10, 20, 30 }, 3);
        Ops.ChannelAffine(x, null, shift, x);
        Assert.That(x.ToArray(), Is.EqualTo(new float[] { 11, 22, 33, 14, 25, 36 }));
    }

    [Test]
    public void ChannelSum_HandCase_SumsAllAxesButOne()
    {
        using var x = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, 2, 3, 2);
        using var y = Tensor.Empty(Cpu, DType.Float32, 3);
        Ops.ChannelSum(x, y);
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12 }));
    }

    [Test]
    public void ChannelSum_RandomInput_IsTheAdjointOfChannelBroadcast()
    {
        // ⟨ChannelSum(x), v⟩ = ⟨x, broadcast(v)⟩, with broadcast(v) = ChannelAffine(0, null, v): ChannelSum is the
        // exact backward of adding a per-channel shift.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 3, c = 4, h = 5, w = 2;
        float[] xs = rng.Normal(n * c * h * w), vs = rng.Normal(c);
        using var x = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var v = Tensor.FromArray(Cpu, vs, c);
        using var sum = Tensor.Empty(Cpu, DType.Float32, c);
        Ops.ChannelSum(x, sum);
        using var broadcast = Tensor.Zeros(Cpu, n, c, h, w);
        Ops.ChannelAffine(broadcast, null, v, broadcast);
        Assert.That(GradCheck.Dot(sum.ToArray(), vs), Is.EqualTo(GradCheck.Dot(xs, broadcast.ToArray())).Within(1e-4));
    }

    [TestCase(true, true)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    public void ChannelAffineBackward_RandomInput_MatchesFiniteDifference(bool withScale, bool withShift)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 3, c = 2, h = 3, w = 4;
        float[] xs = rng.Normal(n * c * h * w), scales = rng.Normal(c), shifts = rng.Normal(c);
        float[] g = rng.Normal(n * c * h * w);

        double Loss()
        {
            using var tape = new Tape(Cpu);
            return GradCheck.Dot(g, Affine(tape, xs, scales, shifts, withScale, withShift).Y.Value.ToArray());
        }

        using (var tape = new Tape(Cpu))
        {
            var (y, x, scale, shift) = Affine(tape, xs, scales, shifts, withScale, withShift);
            tape.Backward(F.Sum(tape, F.Mul(tape, y, tape.Constant(tape.Own(Tensor.FromArray(Cpu, g, n, c, h, w))))));
            string seed = $"seed {rng.Seed}";
            AssertClose.All(FiniteDifference.Gradient(Loss, xs, 1e-2f), x.Grad!.ToArray(), 1e-3, 1e-2, $"dx, {seed}");
            if (withScale)
            {
                var numeric = FiniteDifference.Gradient(Loss, scales, 1e-2f);
                AssertClose.All(numeric, scale!.Grad!.ToArray(), 1e-3, 1e-2, $"dscale, {seed}");
            }
            if (withShift)
            {
                var numeric = FiniteDifference.Gradient(Loss, shifts, 1e-2f);
                AssertClose.All(numeric, shift!.Grad!.ToArray(), 1e-3, 1e-2, $"dshift, {seed}");
            }
        }
    }

    private static (Variable Y, Variable X, Variable? Scale, Variable? Shift) Affine(Tape tape, float[] xs,
        float[] scales, float[] shifts, bool withScale, bool withShift)
    {
        int c = scales.Length;
        var x = tape.Input(tape.Own(Tensor.FromArray(Cpu, xs, 3, c, 3, 4)));
        var scale = withScale ? tape.Input(tape.Own(Tensor.FromArray(Cpu, scales, c))) : null;
        var shift = withShift ? tape.Input(tape.Own(Tensor.FromArray(Cpu, shifts, c))) : null;
        return (F.ChannelAffine(tape, x, scale, shift), x, scale, shift);
    }
}
