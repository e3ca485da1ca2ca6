namespace AdvRobust.Research.Proxy;

/// <summary>
/// ARC (Sehwag et al., ICLR 2022, papers.md §2.4): the area under the curve of robust real-vs-synthetic
/// discrimination accuracy against the perturbation budget ε. Lower ARC: the proxy is harder to tell from real data
/// even when the discriminator is allowed ε of slack, so robustness learned on it should transfer better.
///
/// Our convention, which the paper's text leaves open ("probably measured above the 50% chance level"):
/// ARC = (1/(ε_max − ε_min)) · ∫ a(ε) dε by the trapezoid rule over the grid, where a = max(acc − ½, 0)·2 is the
/// discriminator's advantage over chance. Why the advantage and not raw accuracy: (1) on a balanced binary task
/// chance is ½, so a proxy the discriminator cannot tell from real data at all should score 0, not ½; with the
/// normalisation by the ε range ARC is then a number in [0, 1] whatever the grid: 0 indistinguishable at every
/// budget, 1 perfectly separable at every budget. (2) Robust accuracy can fall below ½ (the attacker pushes both
/// classes across the boundary) while the constant classifier keeps ½; below-chance accuracy is no evidence that the
/// two sets differ, so it counts as 0. <see cref="RawArea"/> (raw accuracies, chance = ½) is reported beside it.
/// A one-point grid has no width: its ARC is the advantage at that ε.
/// </summary>
public static class Arc
{
    /// <summary>max(accuracy − ½, 0)·2: the advantage over chance of a balanced binary discriminator.</summary>
    public static double Advantage(double accuracy)
    {
        if (!(accuracy >= 0 && accuracy <= 1)) throw new ArgumentOutOfRangeException(nameof(accuracy),
            $"an accuracy must be in [0, 1], got {accuracy}");
        return Math.Max(accuracy - 0.5, 0) * 2;
    }

    /// <summary>ARC of robust accuracies <paramref name="accuracies"/> measured at budgets <paramref name="eps"/>
    /// (ascending): the normalised trapezoid area under the advantage curve.</summary>
    public static double FromAccuracies(IReadOnlyList<double> eps, IReadOnlyList<double> accuracies)
    {
        ArgumentNullException.ThrowIfNull(accuracies);
        return Area(eps, accuracies.Select(Advantage).ToArray());
    }

    /// <summary>The same area on the raw accuracies (for comparison; ½ means chance).</summary>
    public static double RawArea(IReadOnlyList<double> eps, IReadOnlyList<double> accuracies)
    {
        ArgumentNullException.ThrowIfNull(accuracies);
        foreach (double a in accuracies) Advantage(a); // validates the range
        return Area(eps, accuracies);
    }

    /// <summary>Checks an ε grid: at least one budget, each finite and ≥ 0, strictly increasing.</summary>
    public static void CheckGrid(IReadOnlyList<double> eps)
    {
        ArgumentNullException.ThrowIfNull(eps);
        if (eps.Count == 0) throw new ArgumentException("ARC needs at least one eps");
        for (int i = 0; i < eps.Count; i++)
        {
            if (!(eps[i] >= 0 && double.IsFinite(eps[i])))
                throw new ArgumentException($"eps[{i}] = {eps[i]} is not a finite budget >= 0");
            if (i > 0 && !(eps[i] > eps[i - 1]))
                throw new ArgumentException(
                    $"eps must be strictly increasing: eps[{i - 1}] = {eps[i - 1]}, eps[{i}] = {eps[i]}");
        }
    }

    /// <summary>
    /// (1/(x_last − x_0))·Σ_i (x_{i+1} − x_i)·(y_i + y_{i+1})/2 for strictly increasing, finite, non-negative x:
    /// the mean height of the piecewise-linear curve through the points. One point: y_0.
    /// </summary>
    public static double Area(IReadOnlyList<double> eps, IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        CheckGrid(eps);
        if (values.Count != eps.Count)
            throw new ArgumentException($"{eps.Count} eps values but {values.Count} accuracies");
        for (int i = 0; i < values.Count; i++)
            if (!double.IsFinite(values[i])) throw new ArgumentException($"value {i} is {values[i]}");
        if (eps.Count == 1) return values[0];
        double area = 0;
        for (int i = 0; i + 1 < eps.Count; i++) area += (eps[i + 1] - eps[i]) * (values[i] + values[i + 1]) / 2;
        return area / (eps[^1] - eps[0]);
    }
}
