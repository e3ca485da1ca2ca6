using AdvRobust.Research.Proxy;

namespace AdvRobust.Tests.Proxy;

/// <summary>The ARC integral on curves whose areas are worked out by hand in each test.</summary>
public class ArcTests
{
    private static readonly double[] Grid = [0, 0.02, 0.05, 0.1];

    [Test]
    public void Area_FallingCurve_IsTrapezoidSumOverRange()
    {
        // 0.02·(1 + 0.5)/2 + 0.03·(0.5 + 0.25)/2 + 0.05·(0.25 + 0)/2 = 0.015 + 0.01125 + 0.00625 = 0.0325; / 0.1
        Assert.That(Arc.Area(Grid, [1, 0.5, 0.25, 0]), Is.EqualTo(0.325).Within(1e-12));
    }

    [Test]
    public void FromAccuracies_ClipsBelowChance_AndDoublesTheAdvantage()
    {
        // Advantages max(acc − ½, 0)·2 = 1, 0.5, 0, 0 → 0.02·0.75 + 0.03·0.25 + 0 = 0.0225; / 0.1 = 0.225.
        Assert.That(Arc.FromAccuracies(Grid, [1.0, 0.75, 0.5, 0.4]), Is.EqualTo(0.225).Within(1e-12));
        // Raw: 0.02·0.875 + 0.03·0.625 + 0.05·0.45 = 0.0175 + 0.01875 + 0.0225 = 0.05875; / 0.1.
        Assert.That(Arc.RawArea(Grid, [1.0, 0.75, 0.5, 0.4]), Is.EqualTo(0.5875).Within(1e-12));
    }

    [Test]
    public void FromAccuracies_ChanceEverywhere_IsZero_PerfectEverywhere_IsOne()
    {
        Assert.That(Arc.FromAccuracies(Grid, [0.5, 0.5, 0.3, 0.5]), Is.Zero);
        Assert.That(Arc.FromAccuracies(Grid, [1, 1, 1, 1]), Is.EqualTo(1).Within(1e-12));
    }

    [Test]
    public void Area_UnevenGrid_WeighsEachIntervalByItsWidth()
    {
        // Steps 0.01 then 0.09: 0.01·(0 + 1)/2 + 0.09·(1 + 1)/2 = 0.005 + 0.09 = 0.095; / 0.1 = 0.95.
        Assert.That(Arc.Area([0, 0.01, 0.1], [0, 1, 1]), Is.EqualTo(0.95).Within(1e-12));
        // A grid that does not start at 0 is normalised by its own range: (0.2 − 0.1)·(0.4 + 0.8)/2 / 0.1 = 0.6.
        Assert.That(Arc.Area([0.1, 0.2], [0.4, 0.8]), Is.EqualTo(0.6).Within(1e-12));
    }

    [Test]
    public void Area_OnePoint_IsItsValue() =>
        Assert.That(Arc.FromAccuracies([0.05], [0.8]), Is.EqualTo(0.6).Within(1e-12));

    [Test]
    public void Area_BadGrids_ThrowNamingTheProblem()
    {
        Assert.That(() => Arc.Area([0, 0.05, 0.05], [1, 1, 1]),
            Throws.ArgumentException.With.Message.Contains("strictly increasing"));
        Assert.That(() => Arc.Area([0, -0.1], [1, 1]), Throws.ArgumentException.With.Message.Contains("eps[1]"));
        Assert.That(() => Arc.Area([0, 0.1], [1]),
            Throws.ArgumentException.With.Message.Contains("2 eps values but 1"));
        Assert.That(() => Arc.Area([], []), Throws.ArgumentException);
        Assert.That(() => Arc.FromAccuracies([0, 0.1], [1, 1.2]), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
