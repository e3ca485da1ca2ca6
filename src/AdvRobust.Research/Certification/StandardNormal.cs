namespace AdvRobust.Research.Certification;

/// <summary>
/// Φ⁻¹, the standard normal quantile, for the certified radius R = σ·Φ⁻¹(p_A). Wichura's algorithm AS 241 (PPND16,
/// Applied Statistics 37(3), 477–484, 1988): three rational approximations of degree 7, for |p − ½| ≤ 0.425, for
/// r = √(−ln min(p, 1−p)) ≤ 5, and beyond; relative error about 1e-16 over (0, 1). It is what R's qnorm and CPython's
/// statistics.NormalDist.inv_cdf use.
/// </summary>
public static class StandardNormal
{
    private static readonly double[] A =
    [
        3.3871328727963666080, 1.3314166789178437745e+2, 1.9715909503065514427e+3, 1.3731693765509461125e+4,
        4.5921953931549871457e+4, 6.7265770927008700853e+4, 3.3430575583588128105e+4, 2.5090809287301226727e+3,
    ];
    private static readonly double[] B =
    [
        1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
        2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4, 5.2264952788528545610e+3,
    ];
    private static readonly double[] C =
    [
        1.42343711074968357734, 4.63033784615654529590, 5.76949722146069140550, 3.64784832476320460504,
        1.27045825245236838258, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4,
    ];
    private static readonly double[] D =
    [
        1.0, 2.05319162663775882187, 1.67638483018380384940, 6.89767334985100004550e-1,
        1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9,
    ];
    private static readonly double[] E =
    [
        6.65790464350110377720, 5.46378491116411436990, 1.78482653991729133580, 2.96560571828504891230e-1,
        2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7,
    ];
    private static readonly double[] F =
    [
        1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
        7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15,
    ];

    /// <summary>z with Φ(z) = p; −∞ at p = 0 and +∞ at p = 1.</summary>
    public static double InverseCdf(double p)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"a probability must be in [0, 1], got {p}");
        if (p == 0) return double.NegativeInfinity;
        if (p == 1) return double.PositiveInfinity;
        double q = p - 0.5;
        if (Math.Abs(q) <= 0.425)
        {
            double s = 0.180625 - q * q;
            return q * Horner(A, s) / Horner(B, s);
        }
        double r = Math.Sqrt(-Math.Log(q < 0 ? p : 1 - p));
        double z = r <= 5 ? Horner(C, r - 1.6) / Horner(D, r - 1.6) : Horner(E, r - 5) / Horner(F, r - 5);
        return q < 0 ? -z : z;
    }

    /// <summary>c₀ + c₁t + … + c₇t⁷.</summary>
    private static double Horner(double[] c, double t)
    {
        double v = c[^1];
        for (int i = c.Length - 2; i >= 0; i--) v = v * t + c[i];
        return v;
    }
}
