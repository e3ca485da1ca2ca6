using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// The 2×2 stride-2 max-pool takes 8 windows at a time (Max2x2Vector) where an output row has 8 or more, and the
// scalar loop elsewhere. Against the window-order rule written out here, bit for bit: values drawn from a few levels
// (ties), with ±0 and NaNs among them; odd sizes leave a last row and column that no window covers (dx = 0 there).
public class MaxPool2x2Tests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(2, 3, 16, 16)]
    [TestCase(1, 2, 29, 35)]
    [TestCase(3, 1, 6, 50)]
    [TestCase(2, 5, 14, 14)]
    [TestCase(2, 3, 9, 11)]
    [TestCase(1, 2, 4, 6)]
    public void MaxPool2x2_ForwardAndBackward_FollowWindowOrderBitwise(int n, int c, int h, int w)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] levels = [0f, -0f, 1f, -1f, 2f, float.NaN, -float.NaN, float.PositiveInfinity];
        float[] u = rng.Uniform(n * c * h * w, 0f, 1f);
        float[] xs = u.Select(v => levels[Math.Min(levels.Length - 1, (int)(v * levels.Length))]).ToArray();
        int outP = h / 2, outQ = w / 2;
        float[] dys = rng.Normal(n * c * outP * outQ);
        dys[0] = -0f;
        var p = new PoolParams(PoolKind.Max, 2, 2);
        using var x = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var y = Tensor.Empty(Cpu, DType.Float32, n, c, outP, outQ);
        using var dy = Tensor.FromArray(Cpu, dys, n, c, outP, outQ);
        using var dx = Tensor.Empty(Cpu, DType.Float32, n, c, h, w);
        Ops.Pool2dForward(p, x, y);
        Ops.Pool2dBackward(p, x, y, dy, dx);

        var yExpected = new float[n * c * outP * outQ];
        var dxExpected = new float[n * c * h * w];
        for (int plane = 0; plane < n * c; plane++)
        for (int i = 0; i < outP; i++)
        for (int j = 0; j < outQ; j++)
        {
            int best = -1;
            for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
            {
                int at = plane * h * w + (2 * i + a) * w + 2 * j + b;
                if (best < 0 || xs[at] > xs[best] || (float.IsNaN(xs[at]) && !float.IsNaN(xs[best]))) best = at;
            }
            int o = (plane * outP + i) * outQ + j;
            yExpected[o] = xs[best];
            dxExpected[best] = 0f + dys[o];
        }
        Assert.That(Bits(y.ToArray()), Is.EqualTo(Bits(yExpected)), "forward");
        Assert.That(Bits(dx.ToArray()), Is.EqualTo(Bits(dxExpected)), "backward");
    }

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();
}
