namespace AdvRobust.Tests.Support;

/// <summary>Central finite differences of a scalar function of float inputs, perturbed one element at a time.</summary>
internal static class FiniteDifference
{
    /// <summary>
    /// dL/dx_k ≈ (L(x_k + h) - L(x_k - h)) / (x_k+ - x_k-), dividing by the perturbation the floats actually hold.
    /// <paramref name="x"/> is modified during the call and restored.
    /// </summary>
    public static float[] Gradient(Func<double> loss, float[] x, float h = 1e-3f)
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
}
