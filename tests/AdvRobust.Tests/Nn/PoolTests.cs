using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// Max and average pooling on the CPU. Shape letters: x N×C×H×W, y N×C×P×Q.
public class PoolTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void Pool2dForward_Max2x2Stride2_TakesWindowMaxima()
    {
        float[] x = { 1, 5, 2, 0, 3, 4, 8, 7, -1, -2, 6, 6, -3, -9, 6, 1 };
        Assert.That(Pool(new PoolParams(PoolKind.Max, 2, 2), x, 1, 1, 4, 4), Is.EqualTo(new float[] { 5, 8, -1, 6 }));
    }

    [Test]
    public void Pool2dForward_MaxWithPadding_IgnoresPaddedZeros()
    {
        // All values negative: a padded zero would win if padding were a candidate.
        float[] x = { -1, -2, -3, -4 };
        var y = Pool(new PoolParams(PoolKind.Max, 2, 1, 1), x, 1, 1, 2, 2);
        Assert.That(y, Is.EqualTo(new float[] { -1, -1, -2, -1, -1, -2, -3, -3, -4 }));
    }

    [Test]
    public void Pool2dForward_AvgWithPadding_CountsPaddedZeros()
    {
        // x = [[1,2],[3,4]], kernel 2, stride 1, padding 1: every window divides by 4, padding included.
        var y = Pool(new PoolParams(PoolKind.Avg, 2, 1, 1), new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        Assert.That(y, Is.EqualTo(new[] { 0.25f, 0.75f, 0.5f, 1f, 2.5f, 1.5f, 0.75f, 1.75f, 1f }));
    }

    [Test]
    public void Pool2dForward_GlobalAverage_AveragesEachPlane()
    {
        float[] x = { 1, 2, 3, 4, 5, 6, 7, 8, 9, -9, -8, -7, -6, -5, -4, -3, -2, -1 };
        Assert.That(Pool(new PoolParams(PoolKind.Avg, 3, 3), x, 1, 2, 3, 3), Is.EqualTo(new float[] { 5, -5 }));
    }

    [Test]
    public void Pool2dBackward_MaxTiesInOverlappingWindows_GoToFirstMaxInWindowOrder()
    {
        // A constant 3×3 plane, kernel 2, stride 1: every window's first position (its top-left) is its max, so
        // dx[i, j] = dy[i, j] for i, j < 2 and the last row and column get nothing.
        float[] dyValues = { 1, 2, 3, 4 };
        float[] x = Enumerable.Repeat(7f, 9).ToArray();
        var dx = PoolBackward(new PoolParams(PoolKind.Max, 2, 1), x, dyValues, 1, 1, 3, 3);
        Assert.That(dx, Is.EqualTo(new float[] { 1, 2, 0, 3, 4, 0, 0, 0, 0 }));
    }

    [Test]
    public void Pool2d_Max2x2Stride2_TiesAndNaNs_FollowWindowOrder()
    {
        // The unrolled 2×2 path keeps the general rule: ties go to the first position in window order, and the
        // first NaN beats every number (window 2: NaN at (0,3) comes before NaN at (1,2) and before 5).
        float[] x = { 3, 3, 1, float.NaN, 3, 3, float.NaN, 5 };
        var p = new PoolParams(PoolKind.Max, 2, 2);
        Assert.That(Pool(p, x, 1, 1, 2, 4), Is.EqualTo(new[] { 3f, float.NaN }));
        Assert.That(PoolBackward(p, x, new float[] { 1, 2 }, 1, 1, 2, 4), Is.EqualTo(new float[] { 1, 0, 0, 2, 0, 0, 0, 0 }));
    }

    [Test]
    public void Pool2dBackward_MaxSharedMaximum_AddsEveryWindowThatChoseIt()
    {
        // The 9 at the centre is the max of all four overlapping 2×2 windows: dx there is Σ dy.
        float[] x = { 1, 2, 3, 4, 9, 5, 6, 7, 8 };
        var dx = PoolBackward(new PoolParams(PoolKind.Max, 2, 1), x, new float[] { 1, 2, 3, 4 }, 1, 1, 3, 3);
        Assert.That(dx, Is.EqualTo(new float[] { 0, 0, 0, 0, 10, 0, 0, 0, 0 }));
    }

    public static IEnumerable<TestCaseData> Windows()
    {
        foreach (var kind in new[] { PoolKind.Max, PoolKind.Avg })
        {
            yield return new TestCaseData(kind, 2, 2, 0);
            yield return new TestCaseData(kind, 3, 2, 1);
            yield return new TestCaseData(kind, 3, 1, 1);
            yield return new TestCaseData(kind, 2, 1, 1);
        }
    }

    [TestCaseSource(nameof(Windows))]
    public void Pool2dBackward_RandomInput_MatchesFiniteDifference(PoolKind kind, int kernel, int stride, int pad)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 2, c = 3, h = 7, w = 5;
        var p = new PoolParams(kind, kernel, stride, pad);
        // Distinct values 0.05 apart, shuffled: a perturbation of 1e-3 never changes which element is a window's max.
        float[] x = Enumerable.Range(0, n * c * h * w).Select(i => (i - 100) * 0.05f).OrderBy(_ => rng.Next(0, 1 << 30))
            .ToArray();
        int outP = p.OutSize(h), outQ = p.OutSize(w);
        float[] g = rng.Normal(n * c * outP * outQ);
        var dx = PoolBackward(p, x, g, n, c, h, w);

        double Loss() => GradCheck.Dot(g, Pool(p, x, n, c, h, w));
        AssertClose.All(FiniteDifference.Gradient(Loss, x, 1e-3f), dx, 1e-3, 1e-2, $"{kind} dx, seed {rng.Seed}");
    }

    private static float[] Pool(PoolParams p, float[] xs, int n, int c, int h, int w)
    {
        using var x = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var y = Tensor.Empty(Cpu, DType.Float32, Ops.Pool2dOutputShape(p, x.Shape).Dims.ToArray());
        Ops.Pool2dForward(p, x, y);
        return y.ToArray();
    }

    private static float[] PoolBackward(PoolParams p, float[] xs, float[] dys, int n, int c, int h, int w)
    {
        using var x = Tensor.FromArray(Cpu, xs, n, c, h, w);
        using var y = Tensor.Empty(Cpu, DType.Float32, Ops.Pool2dOutputShape(p, x.Shape).Dims.ToArray());
        Ops.Pool2dForward(p, x, y);
        using var dy = Tensor.FromArray(Cpu, dys, y.Shape.Dims.ToArray());
        using var dx = Tensor.Empty(Cpu, DType.Float32, n, c, h, w);
        Ops.Fill(dx, float.NaN);
        Ops.Pool2dBackward(p, x, y, dy, dx);
        return dx.ToArray();
    }
}
