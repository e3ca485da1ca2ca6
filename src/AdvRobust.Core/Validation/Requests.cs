using System.Globalization;
using AdvRobust.Core.Data;

namespace AdvRobust.Core.Validation;

/// <summary>
/// Checks of what a command is asked to do, made before any work starts, each throwing
/// <see cref="ArgumentException"/> (exit code 2) with the option, the value and what is wrong: counts (0 or negative
/// refused; more than the data holds cut, with a note the caller prints), empty data sets, and perturbation budgets
/// in the range of their norm. Output paths are <see cref="OutputPaths"/>.
/// </summary>
public static class Requests
{
    /// <summary><paramref name="value"/> must be at least 1.</summary>
    public static int Positive(string option, int value) => value >= 1
        ? value
        : throw new ArgumentException($"{option} must be at least 1, got {value}");

    /// <summary>
    /// The count to use for <paramref name="option"/>: all <paramref name="available"/> when not given; refused when
    /// 0 or negative; cut to <paramref name="available"/> with <paramref name="note"/> saying so when larger.
    /// </summary>
    public static int Count(string option, int? requested, int available, string what, out string? note)
    {
        note = null;
        if (requested is not int n) return available;
        Positive(option, n);
        if (n <= available) return n;
        note = $"{option} {n} is more than the {available} {what}; using all {available}";
        return available;
    }

    /// <summary>A data set a command is about to evaluate must hold images: 0 would report 0% and mean nothing.</summary>
    public static LabeledImages NotEmpty(LabeledImages images, string role)
    {
        ArgumentNullException.ThrowIfNull(images);
        return images.N > 0
            ? images
            : throw new ArgumentException($"the {role} ({images.Source}) holds no images; there is nothing to evaluate");
    }

    /// <summary>
    /// A perturbation budget in pixel units of [0,1] images: l-inf in [0, 1] (1 reaches every image), l2 in
    /// [0, √D] for D = <paramref name="dims"/> values per image (the diameter of the box). Zero only where
    /// <paramref name="allowZero"/>.
    /// </summary>
    public static float Eps(string option, float eps, PgdNorm norm, int dims, bool allowZero = true)
    {
        double max = norm == PgdNorm.Linf ? 1 : Math.Sqrt(Math.Max(dims, 1));
        string range = allowZero ? $"[0, {Format(max)}]" : $"(0, {Format(max)}]";
        string kind = norm == PgdNorm.Linf ? "an l-inf radius" : $"an l2 radius for {dims}-value images";
        bool ok = float.IsFinite(eps) && (allowZero ? eps >= 0 : eps > 0) && eps <= max * (1 + 1e-6);
        return ok
            ? eps
            : throw new ArgumentException(
                $"{option} must be {kind} in {range} pixel units ([0,1] images), got {Format(eps)}");
    }

    private static string Format(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
