using AdvRobust.Core;
using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// Per-sample random crop (after zero padding) and horizontal flip, drawn from Philox purpose 3 keyed by the global
// sample index. Shape letters: x, y N×C×H×W.
public class RandomCropFlipTests
{
    private static IBackend Cpu => Backends.Cpu;
    private const ulong Seed = 0x5EED;

    [Test]
    public void RandomCropFlip_NoPadNoFlip_IsIdentity()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] xs = rng.Normal(4 * 3 * 5 * 6);
        Assert.That(Augment(xs, 4, 3, 5, 6, pad: 0, flip: false, firstSample: 0), Is.EqualTo(xs));
    }

    [Test]
    public void RandomCropFlip_FlipTwiceWithTheSameDraw_IsIdentity()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 16, c = 2, h = 3, w = 5;
        float[] xs = rng.Normal(n * c * h * w);
        var once = Augment(xs, n, c, h, w, pad: 0, flip: true, firstSample: 7);
        Assert.That(once, Is.Not.EqualTo(xs), "no sample of 16 was flipped");
        Assert.That(Augment(once, n, c, h, w, pad: 0, flip: true, firstSample: 7), Is.EqualTo(xs));
    }

    [Test]
    public void RandomCropFlip_BatchSplit_GivesEachSampleTheSameCrop()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 6, c = 3, h = 8, w = 7, split = 2, per = c * h * w;
        float[] xs = rng.Normal(n * per);
        var whole = Augment(xs, n, c, h, w, pad: 3, flip: true, firstSample: 100);
        var head = Augment(xs[..(split * per)], split, c, h, w, pad: 3, flip: true, firstSample: 100);
        var tail = Augment(xs[(split * per)..], n - split, c, h, w, pad: 3, flip: true, firstSample: 100 + split);
        Assert.That(head.Concat(tail).ToArray(), Is.EqualTo(whole));
    }

    [Test]
    public void RandomCropFlip_RandomInput_IsPadCropMirrorOfTheDraw()
    {
        // Independent construction: zero-pad by `pad`, crop H×W at offset (pad + dy, pad + dx), mirror if drawn.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 8, c = 2, h = 6, w = 5, pad = 2, first = 40;
        float[] xs = rng.Normal(n * c * h * w);
        var actual = Augment(xs, n, c, h, w, pad, flip: true, firstSample: first);
        int hp = h + 2 * pad, wp = w + 2 * pad;
        var expected = new float[xs.Length];
        for (int s = 0; s < n; s++)
        {
            var r = Philox.Draw(Seed, 1, 3, (uint)(first + s), 0);
            int dx = (int)(r.X0 % (2 * pad + 1)) - pad, dy = (int)(r.X1 % (2 * pad + 1)) - pad;
            bool mirror = (r.X2 & 1) == 1;
            for (int ch = 0; ch < c; ch++)
            {
                var padded = new float[hp, wp];
                for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    padded[i + pad, j + pad] = xs[((s * c + ch) * h + i) * w + j];
                for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    int at = ((s * c + ch) * h + i) * w + (mirror ? w - 1 - j : j);
                    expected[at] = padded[pad + dy + i, pad + dx + j];
                }
            }
        }
        Assert.That(actual, Is.EqualTo(expected));
    }

    private static float[] Augment(float[] xs, int n, int c, int h, int w, int pad, bool flip, uint firstSample)
    {
        using var x = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var y = Tensor.Empty(Cpu, DType.Float32, n, c, h, w);
        Ops.RandomCropFlip(x, y, pad, flip, Seed, stream: 1, firstSample);
        return y.ToArray();
    }
}
