using System.Globalization;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// Range checks for the objectives' settings. Each failure is an <see cref="ArgumentException"/> that names the
/// objective, the setting by its JSON name and the value, e.g. "pgd-at setting 'eps' must be in [0, 1] ..., got 3".
/// </summary>
internal static class SettingsCheck
{
    public static void Require(bool ok, string objective, string key, string rule, object value)
    {
        if (!ok)
            throw new ArgumentException(
                $"{objective} setting '{key}' {rule}, got {Convert.ToString(value, CultureInfo.InvariantCulture)}");
    }

    public static void NonNegative(string objective, string key, float value) =>
        Require(float.IsFinite(value) && value >= 0, objective, key, "must be finite and >= 0", value);

    public static void LabelSmoothing(string objective, float value) =>
        Require(value is >= 0f and < 1f, objective, "labelSmoothing", "must be in [0, 1)", value);

    /// <summary>The inner maximisation: radius, step size and step count in [0, 1] pixel space.</summary>
    public static void Attack(string objective, PgdNorm norm, float eps, float stepSize, int steps)
    {
        Require(Enum.IsDefined(norm), objective, "norm", "must be linf or l2", norm);
        NonNegative(objective, "eps", eps);
        // An l-inf radius of 1 already reaches every image in [0, 1]; a larger one is a unit mistake (8 for 8/255).
        Require(norm != PgdNorm.Linf || eps <= 1f, objective, "eps",
            "must be at most 1 for linf (pixels are in [0, 1]; write 8/255 as 0.0314)", eps);
        NonNegative(objective, "stepSize", stepSize);
        Require(steps >= 0, objective, "steps", "must be >= 0", steps);
    }
}
