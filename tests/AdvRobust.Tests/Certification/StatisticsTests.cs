using AdvRobust.Research.Certification;

namespace AdvRobust.Tests.Certification;

/// <summary>
/// IncompleteBeta, StandardNormal and BinomialStatistics against closed forms and reference values. Unless marked
/// otherwise, the expected numbers were computed with mpmath 1.3.0 at 40–50 significant digits: I_x(a, b) with
/// <c>betainc(a, b, 0, x, regularized=True)</c>, Φ⁻¹(p) with <c>sqrt(2)*erfinv(2p−1)</c>, the Clopper–Pearson bound by
/// bisecting the exact binomial tail P(X ≥ k | p) = Σ C(n,i) pⁱ(1−p)ⁿ⁻ⁱ (all terms positive, 70 halvings) to α, and
/// the binomial test as 2·Σ_{i≤m} C(n,i)/2ⁿ with exact integers; they are what scipy's beta.cdf, beta.ppf, norm.ppf
/// and binom_test compute to double precision.
/// </summary>
public class StatisticsTests
{
    [TestCase(2.0, 5.0, 0.3, 0.579825)]                         // = 1 − 0.7⁶ − 6·0.3·0.7⁵ exactly
    [TestCase(0.5, 0.5, 0.2, 0.29516723530086655719)]           // = (2/π)·asin(√0.2)
    [TestCase(10.0, 3.0, 0.8, 0.55834574848000015736)]
    [TestCase(100.0, 200.0, 0.3, 0.10884306564490975751)]
    [TestCase(1000.0, 10.0, 0.995, 0.96688226014363384236)]
    public void Regularized_KnownValues_MatchMpmath(double a, double b, double x, double expected) =>
        Assert.That(IncompleteBeta.Regularized(a, b, x), Is.EqualTo(expected).Within(1e-10).Percent);

    [Test]
    public void Regularized_SymmetryAndEndpoints_Hold()
    {
        Assert.Multiple(() =>
        {
            foreach (var (a, b, x) in new[] { (3.0, 7.0, 0.2), (50.0, 40.0, 0.6), (1e5, 2.0, 0.99999) })
                Assert.That(IncompleteBeta.Regularized(a, b, x) + IncompleteBeta.Regularized(b, a, 1 - x),
                    Is.EqualTo(1).Within(1e-13), $"I_x({a},{b}) + I_(1-x)({b},{a})");
            Assert.That(IncompleteBeta.Regularized(25, 25, 0.5), Is.EqualTo(0.5).Within(1e-14), "I_½(a, a) = ½");
            Assert.That(IncompleteBeta.Regularized(4, 9, 0), Is.Zero);
            Assert.That(IncompleteBeta.Regularized(4, 9, 1), Is.EqualTo(1));
            Assert.That(() => IncompleteBeta.Regularized(0, 1, 0.5), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => IncompleteBeta.Regularized(1, 1, 1.5), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void Inverse_RoundTrip_RecoversP()
    {
        Assert.Multiple(() =>
        {
            foreach (var (a, b) in new[] { (1.0, 1.0), (0.5, 3.0), (7.0, 2.0), (1900.0, 101.0), (99950.0, 51.0), (1.0, 1e5) })
            foreach (double p in new[] { 1e-9, 0.001, 0.3, 0.5, 0.999 })
            {
                double x = IncompleteBeta.Inverse(a, b, p);
                Assert.That(IncompleteBeta.Regularized(a, b, x), Is.EqualTo(p).Within(1e-9).Percent, $"a={a} b={b} p={p}");
            }
            Assert.That(IncompleteBeta.Inverse(2, 3, 0), Is.Zero);
            Assert.That(IncompleteBeta.Inverse(2, 3, 1), Is.EqualTo(1));
        });
    }

    [Test]
    public void LogGamma_Factorials_MatchExactValues()
    {
        Assert.Multiple(() =>
        {
            double factorial = 1;
            for (int n = 1; n <= 20; n++)
            {
                Assert.That(IncompleteBeta.LogGamma(n + 1), Is.EqualTo(Math.Log(factorial *= n)).Within(1e-13), $"ln {n}!");
            }
            Assert.That(IncompleteBeta.LogGamma(0.5), Is.EqualTo(0.5 * Math.Log(Math.PI)).Within(1e-14), "ln Γ(½) = ln √π");
        });
    }

    [TestCase(90, 100, 0.001, 0.77532988016777492558)]
    [TestCase(5, 20, 0.05, 0.10408083591013608112)]
    [TestCase(1, 10, 0.025, 0.0025285785444617846442)]          // the 95% two-sided table value 0.0025 for 1/10
    [TestCase(1000, 2000, 0.001, 0.46524649845617709087)]
    [TestCase(1900, 2000, 0.001, 0.93313076755464945728)]
    [TestCase(60000, 100000, 0.001, 0.59520104729458454595)]
    [TestCase(99950, 100000, 0.001, 0.99924067958737712243)]
    public void ClopperPearsonLower_KnownValues_MatchMpmath(int k, int n, double alpha, double expected) =>
        Assert.That(BinomialStatistics.ClopperPearsonLower(k, n, alpha), Is.EqualTo(expected).Within(1e-10).Percent);

    [Test]
    public void ClopperPearsonLower_EdgeCounts_MatchClosedForms()
    {
        Assert.Multiple(() =>
        {
            foreach (int n in new[] { 1, 10, 2000, 100_000 })
            {
                // k = 0: no lower bound. k = n: Beta(n, 1) has cdf xⁿ. k = 1: Beta(1, n) has cdf 1 − (1−x)ⁿ.
                Assert.That(BinomialStatistics.ClopperPearsonLower(0, n, 0.001), Is.Zero, $"k=0 of {n}");
                Assert.That(BinomialStatistics.ClopperPearsonLower(n, n, 0.001),
                    Is.EqualTo(Math.Pow(0.001, 1.0 / n)).Within(1e-12).Percent, $"k=n={n}");
                // Relative error ~1e-10 at n = 1e5: ln B(1, n) = ln Γ(n) − ln Γ(n+1) cancels two numbers ~1e6.
                Assert.That(BinomialStatistics.ClopperPearsonLower(1, n, 0.001),
                    Is.EqualTo(-ExpM1(Math.Log(0.999) / n)).Within(1e-8).Percent, $"k=1 of {n}");
            }
        });
    }

    /// <summary>eʸ − 1 for |y| ≤ 1e-3 by its Taylor series to y⁵ (remainder below 1e-20 relative).</summary>
    private static double ExpM1(double y) => y * (1 + y / 2 * (1 + y / 3 * (1 + y / 4 * (1 + y / 5))));

    [Test]
    public void ClopperPearsonLower_IsBelowTheEstimateAndIncreasesWithK()
    {
        double previous = -1;
        for (int k = 0; k <= 200; k++)
        {
            double lower = BinomialStatistics.ClopperPearsonLower(k, 200, 0.001);
            Assert.That(lower, Is.GreaterThan(previous).And.LessThanOrEqualTo(k / 200.0), $"k={k}");
            previous = lower;
        }
    }

    [Test]
    public void ClopperPearsonLower_BadArguments_Throw()
    {
        Assert.That(() => BinomialStatistics.ClopperPearsonLower(5, 4, 0.01), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => BinomialStatistics.ClopperPearsonLower(0, 0, 0.01), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => BinomialStatistics.ClopperPearsonLower(1, 4, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [TestCase(0.975, 1.9599639845400538556)]
    [TestCase(0.999, 3.0902323061678132778)]
    [TestCase(0.001, -3.0902323061678135354)]
    [TestCase(0.6, 0.25334710313579974132)]
    [TestCase(0.9999999, 5.1993375822906610937)]
    [TestCase(1e-20, -9.2623400897984075796)]                   // the third AS 241 branch (r > 5)
    [TestCase(0.99924067958737712243, 3.1710976519988908993)]
    [TestCase(0.5, 0.0)]
    // Φ⁻¹ of the double nearest p (mpmath on mpf(float)): near 1, 1 − p carries the decimal's rounding, e.g. 0.9999999.
    public void InverseCdf_KnownValues_MatchMpmath(double p, double expected) =>
        Assert.That(StandardNormal.InverseCdf(p), Is.EqualTo(expected).Within(1e-14 * Math.Max(1, Math.Abs(expected))));

    [Test]
    public void InverseCdf_Endpoints_AreInfinite()
    {
        Assert.That(StandardNormal.InverseCdf(0), Is.EqualTo(double.NegativeInfinity));
        Assert.That(StandardNormal.InverseCdf(1), Is.EqualTo(double.PositiveInfinity));
        Assert.That(() => StandardNormal.InverseCdf(1.01), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [TestCase(60, 100, 0.05688793364098079167)]
    [TestCase(40, 100, 0.05688793364098079167)]
    [TestCase(7, 10, 0.34375)]                                   // 2·(1+10+45+120)/1024, by hand
    [TestCase(55, 100, 0.36820161732669623669)]
    [TestCase(530, 1000, 0.062023195098363180559)]
    [TestCase(3, 3, 0.25)]                                       // 2·(½)³
    [TestCase(50, 100, 1.0)]                                     // k = n/2
    [TestCase(1, 1, 1.0)]
    public void BinomialTestHalf_KnownValues_MatchExactSums(int k, int n, double expected) =>
        Assert.That(BinomialStatistics.BinomialTestHalf(k, n), Is.EqualTo(expected).Within(1e-10).Percent);
}
