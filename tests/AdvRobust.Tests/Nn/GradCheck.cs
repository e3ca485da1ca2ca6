namespace AdvRobust.Tests.Nn;

/// <summary>The dot product the NN-op gradient tests project outputs with (finite differences: Support/FiniteDifference).</summary>
internal static class GradCheck
{
    /// <summary>Σ g·y in double: the scalar L = ⟨G, y⟩ whose gradient w.r.t. y is G.</summary>
    public static double Dot(float[] g, float[] y)
    {
        Assert.That(y.Length, Is.EqualTo(g.Length), "Dot: lengths differ");
        double sum = 0;
        for (int i = 0; i < g.Length; i++) sum += (double)g[i] * y[i];
        return sum;
    }
}
