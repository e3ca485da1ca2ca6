using AdvRobust.Research.Proxy;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Proxy;

/// <summary>The eigen-solvers behind the PCA proxy, on matrices whose eigenpairs are known by construction:
/// A = H·diag(λ)·H with H = I − 2vvᵀ/(vᵀv) a Householder reflection (orthogonal and symmetric), so the eigenvectors
/// are the columns of H.</summary>
public class SymmetricEigenTests
{
    private static (double[] A, double[] H) Known(double[] lambda, SeededRandom rng)
    {
        int n = lambda.Length;
        var v = rng.Normal(n).Select(x => (double)x).ToArray();
        double vv = v.Sum(x => x * x);
        var h = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) h[i * n + j] = (i == j ? 1 : 0) - 2 * v[i] * v[j] / vv;
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int k = 0; k < n; k++) sum += h[i * n + k] * lambda[k] * h[j * n + k];
                a[i * n + j] = sum;
            }
        for (int i = 0; i < n; i++) // exact symmetry (the products above can differ in the last bit)
            for (int j = i + 1; j < n; j++) a[j * n + i] = a[i * n + j];
        return (a, h);
    }

    /// <summary>|cos| between returned eigenvector r and column c of H (eigenvectors are defined up to sign).</summary>
    private static double Alignment(double[] vectors, int r, double[] h, int c, int n)
    {
        double dot = 0;
        for (int i = 0; i < n; i++) dot += vectors[r * n + i] * h[i * n + c];
        return Math.Abs(dot);
    }

    [Test]
    public void Jacobi_TwoByTwo_MatchesHandSolution()
    {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2.
        var (values, vectors) = SymmetricEigen.Jacobi([2, 1, 1, 2], 2);
        Assert.That(values, Is.EqualTo(new[] { 3.0, 1.0 }).Within(1e-14));
        Assert.That(Math.Abs(vectors[0] + vectors[1]) / 2, Is.EqualTo(Math.Sqrt(0.5)).Within(1e-14));
        Assert.That(Math.Abs(vectors[2] - vectors[3]) / 2, Is.EqualTo(Math.Sqrt(0.5)).Within(1e-14));
    }

    [Test]
    public void Jacobi_KnownSpectrum_RecoversValuesAndVectorsInDescendingOrder()
    {
        var rng = new SeededRandom(nameof(Jacobi_KnownSpectrum_RecoversValuesAndVectorsInDescendingOrder));
        double[] lambda = Enumerable.Range(0, 20).Select(i => 5.0 - 0.5 * i).ToArray(); // 5 … −4.5, distinct
        var (a, h) = Known(lambda, rng);
        var (values, vectors) = SymmetricEigen.Jacobi(a, 20);
        Assert.That(values, Is.EqualTo(lambda).Within(1e-12));
        for (int r = 0; r < 20; r++)
            Assert.That(Alignment(vectors, r, h, r, 20), Is.EqualTo(1).Within(1e-10), $"vector {r}");
    }

    [Test]
    public void Top_LargeMatrixWithDecayingSpectrum_MatchesTheKnownTopK()
    {
        var rng = new SeededRandom(nameof(Top_LargeMatrixWithDecayingSpectrum_MatchesTheKnownTopK));
        int n = 150, k = 6;
        // A covariance-like power-law spectrum with a near tie at the cut (λ_6 ≈ λ_7) that oversampling must handle.
        double[] lambda = Enumerable.Range(0, n).Select(i => 1.0 / Math.Pow(i + 1, 1.5)).ToArray();
        lambda[6] = lambda[5] * 0.999;
        var (a, h) = Known(lambda, rng);
        var (values, vectors) = SymmetricEigen.Top(a, n, k);
        Assert.That(values, Is.EqualTo(lambda[..k]).Within(1e-9));
        for (int r = 0; r < k - 1; r++)
            Assert.That(Alignment(vectors, r, h, r, n), Is.EqualTo(1).Within(1e-6), $"vector {r}");
        for (int r = 0; r < k; r++)
            for (int s = 0; s < k; s++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += vectors[r * n + i] * vectors[s * n + i];
                Assert.That(dot, Is.EqualTo(r == s ? 1 : 0).Within(1e-10), $"orthonormality ({r}, {s})");
            }
    }

    [Test]
    public void Top_RankDeficientMatrix_ReturnsZeroBeyondTheRank()
    {
        var rng = new SeededRandom(nameof(Top_RankDeficientMatrix_ReturnsZeroBeyondTheRank));
        int n = 100;
        double[] lambda = new double[n];
        (lambda[0], lambda[1], lambda[2]) = (4, 2, 1);
        var (a, h) = Known(lambda, rng);
        var (values, vectors) = SymmetricEigen.Top(a, n, 5);
        Assert.That(values, Is.EqualTo(new[] { 4.0, 2, 1, 0, 0 }).Within(1e-9));
        for (int r = 0; r < 3; r++) Assert.That(Alignment(vectors, r, h, r, n), Is.EqualTo(1).Within(1e-9));
    }

    [Test]
    public void Top_SmallMatrix_UsesJacobiAndAgrees()
    {
        var rng = new SeededRandom(nameof(Top_SmallMatrix_UsesJacobiAndAgrees));
        var (a, _) = Known([3, 2, 1, 0.5, 0.25], rng);
        var (values, _) = SymmetricEigen.Top(a, 5, 2);
        Assert.That(values, Is.EqualTo(new[] { 3.0, 2.0 }).Within(1e-12));
    }

    [Test]
    public void Top_NotSymmetric_Throws() =>
        Assert.That(() => SymmetricEigen.Top([1, 2, 3, 4], 2, 1),
            Throws.ArgumentException.With.Message.Contains("not symmetric"));
}
