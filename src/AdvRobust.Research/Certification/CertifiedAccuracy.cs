namespace AdvRobust.Research.Certification;

/// <summary>
/// One certified test point, as the certify command writes it (one JSON line each): the test index, its label, the
/// smoothed prediction (<see cref="SmoothedClassifier.Abstain"/> = −1 when abstaining), the certified radius, whether
/// the prediction is the label, and the seconds CERTIFY took.
/// </summary>
public sealed record CertifiedPoint(int Index, int Label, int Predicted, double Radius, bool Correct, double Seconds);

/// <summary>
/// Certified accuracy at radius r (Cohen et al. 2019, analyze.py): the fraction of test points whose smoothed
/// prediction is correct and certified at a radius of at least r. An abstention counts as wrong. As a function of r it
/// is a non-increasing step function whose steps sit at the radii of the correct points, so evaluating it there (plus
/// 0) gives the exact curve for a plot.
/// </summary>
public static class CertifiedAccuracy
{
    public static double At(IReadOnlyCollection<CertifiedPoint> points, double radius)
    {
        if (!(radius >= 0)) throw new ArgumentOutOfRangeException(nameof(radius), $"a radius must be >= 0, got {radius}");
        return points.Count == 0 ? 0 : (double)points.Count(p => p.Correct && p.Radius >= radius) / points.Count;
    }

    /// <summary>(r, accuracy at r) for each of <paramref name="radii"/>, in the given order.</summary>
    public static IReadOnlyList<(double Radius, double Accuracy)> At(IReadOnlyCollection<CertifiedPoint> points,
        IEnumerable<double> radii) => radii.Select(r => (r, At(points, r))).ToList();

    /// <summary>The exact step curve: (r, accuracy) at 0 and at every distinct radius of a correct point, ascending.</summary>
    public static IReadOnlyList<(double Radius, double Accuracy)> Curve(IReadOnlyCollection<CertifiedPoint> points) =>
        At(points, points.Where(p => p.Correct).Select(p => p.Radius).Append(0).Distinct().Order());
}
