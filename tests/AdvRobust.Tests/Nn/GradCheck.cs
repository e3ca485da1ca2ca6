namespace AdvRobust.Tests.Nn;

/// <summary>Central finite differences for the NN-op gradient tests, and the dot product they project with.</summary>
internal static class GradCheck
{
    /// <summary>
    /// dL/dx_k ≈ (L(x_k + h) − L(x_k − h)) / (x_k+ − x_k−), dividing by the perturbation the floats actually hold.
    /// <paramref name="x"/> is modified during the call and restored.
    /// </summary>
    public static float[] Numeric(Func<double> loss, float[] x, float h)
    {
        var grad = new float[x.Length];
        for (int k = 0; k < x.Length; k++)
        {
            float original = x[k];
            x[k] = original + h;
            float up = x[k];
            double lossUp = loss();
            x[k] = original - h;
            float down = x[k];
            double lossDown = loss();
            x[k] = original;
            grad[k] = (float)((lossUp - lossDown) / ((double)up - down));
        }
        return grad;
    }

    /// <summary>Σ g·y in double: the scalar L = ⟨G, y⟩ whose gradient w.r.t. y is G.</summary>
    public static double Dot(float[] g, float[] y)
    {
        Assert.That(y.Length, Is.EqualTo(g.Length), "Dot: lengths differ");
        double sum = 0;
        for (int i = 0; i < g.Length; i++) sum += (double)g[i] * y[i];
        return sum;
    }
}
