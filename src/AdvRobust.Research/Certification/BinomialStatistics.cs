namespace AdvRobust.Research.Certification;

/// <summary>
/// The two binomial statistics of Cohen et al. (2019): the one-sided Clopper–Pearson lower confidence bound used by
/// CERTIFY, and the two-sided binomial test against p = ½ used by PREDICT. Both reduce to the regularized incomplete
/// beta function through P(X ≥ k) = I_p(k, n − k + 1) for X ~ Binomial(n, p).
/// </summary>
public static class BinomialStatistics
{
    /// <summary>
    /// The one-sided (1 − α) Clopper–Pearson lower bound on p from k successes in n trials: the p with
    /// P(X ≥ k | p) = α, i.e. the α quantile of Beta(k, n − k + 1), and 0 when k = 0. This is Cohen's
    /// <c>proportion_confint(k, n, alpha=2*alpha, method="beta")[0]</c> (statsmodels), i.e. scipy's
    /// <c>beta.ppf(alpha, k, n-k+1)</c>; at k = n it is α^(1/n) in closed form.
    /// </summary>
    public static double ClopperPearsonLower(long k, long n, double alpha)
    {
        CheckCounts(k, n);
        if (!(alpha > 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), $"alpha must be in (0, 1), got {alpha}");
        return k == 0 ? 0 : IncompleteBeta.Inverse(k, n - k + 1, alpha);
    }

    /// <summary>
    /// The two-sided p-value of the binomial test of k successes in n trials against p = ½ (scipy's
    /// <c>binom_test(k, n, 0.5)</c>, which Cohen's PREDICT calls): by symmetry 2·P(X ≤ min(k, n − k)), capped at 1,
    /// and 1 when k = n/2. P(X ≤ m) = I_½(n − m, m + 1).
    /// </summary>
    public static double BinomialTestHalf(long k, long n)
    {
        CheckCounts(k, n);
        long m = Math.Min(k, n - k);
        if (2 * m >= n) return 1;
        return Math.Min(1, 2 * IncompleteBeta.Regularized(n - m, m + 1, 0.5));
    }

    private static void CheckCounts(long k, long n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"need at least one trial, got n={n}");
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"k={k} successes is not in [0, n={n}]");
    }
}
