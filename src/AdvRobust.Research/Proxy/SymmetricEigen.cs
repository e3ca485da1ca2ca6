using System.Numerics;

namespace AdvRobust.Research.Proxy;

/// <summary>
/// Eigenpairs of a real symmetric n×n matrix (row-major, double), largest eigenvalue first. Eigenvectors are returned
/// as the rows of a k×n array (row i belongs to value i), each of unit length.
///
/// Why our own and not MathNet.Numerics: PCA proxies need only the top k (k ≪ n = 784) eigenpairs of a few class
/// covariances, and Core takes no package dependencies. Two short, tested routines do it:
/// <see cref="Jacobi"/> (cyclic Jacobi rotations; all pairs; O(n³) per sweep, used for small matrices and for the
/// Rayleigh–Ritz step) and <see cref="Top"/> (subspace iteration with Rayleigh–Ritz, Golub &amp; Van Loan §8.2.4 /
/// Saad ch. 5: Q ← orth(A·Q) on a block of b = k + oversampling vectors; costs b·n² per iteration, and eigenpair i
/// converges like (λ_{b+1}/λ_i)^iteration, so the oversampling makes the top k converge fast even when λ_k ≈ λ_{k+1}).
/// </summary>
public static class SymmetricEigen
{
    /// <summary>Up to this size (or when the block would span half the matrix) <see cref="Top"/> diagonalizes the
    /// whole matrix with <see cref="Jacobi"/> instead.</summary>
    public const int JacobiSize = 48;

    /// <summary>
    /// All eigenpairs by cyclic Jacobi: sweep over every (p, q), p &lt; q, rotating by J(p, q, θ) so that a'_pq = 0
    /// (t = tan θ the smaller root of t² + 2τt − 1 = 0, τ = (a_qq − a_pp)/(2a_pq)), until the off-diagonal mass is
    /// below 10⁻³⁰ of the total. From the fourth sweep on, an a_pq too small to change a_pp or a_qq in double
    /// (Numerical Recipes' rule) is set to zero instead of rotated, so the sweeps end once rounding is all that is
    /// left. The diagonal then holds the eigenvalues and the accumulated rotations the eigenvectors. Quadratically
    /// convergent: about 6–10 sweeps.
    /// </summary>
    public static (double[] Values, double[] Vectors) Jacobi(double[] a, int n)
    {
        Check(a, n);
        var m = (double[])a.Clone();
        var v = new double[n * n]; // column j of v is eigenvector j while rotating
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        double total = m.Sum(x => x * x);
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) off += 2 * m[p * n + q] * m[p * n + q];
            if (off <= 1e-30 * total || off == 0) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) Rotate(m, v, n, p, q, dropNegligible: sweep >= 3);
        }
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = m[i * n + i];
        int[] order = Enumerable.Range(0, n).OrderByDescending(i => values[i]).ToArray();
        var vectors = new double[n * n];
        for (int r = 0; r < n; r++)
            for (int i = 0; i < n; i++) vectors[r * n + i] = v[i * n + order[r]];
        return (order.Select(i => values[i]).ToArray(), vectors);
    }

    /// <summary>
    /// The top <paramref name="k"/> eigenpairs by subspace iteration with Rayleigh–Ritz. Each iteration: Z = A·Q for
    /// the b orthonormal rows of Q; H = Qᵀ A Q (b×b) diagonalized by <see cref="Jacobi"/>, H = W Θ Wᵀ; Ritz vectors
    /// U = Wᵀ Q with A·U = Wᵀ Z; stop when every one of the top k has ‖A u_i − θ_i u_i‖ ≤ tolerance·|θ_0|, else
    /// Q ← orth(A·U). The start block is Gaussian from Philox (fixed seed), so the result is deterministic.
    /// Meant for positive semi-definite matrices (covariances), where the largest eigenvalues are also the dominant
    /// ones that subspace iteration converges to. Throws when it has not converged after
    /// <paramref name="maxIterations"/>, with the residual it reached.
    /// </summary>
    public static (double[] Values, double[] Vectors) Top(double[] a, int n, int k, double tolerance = 1e-7,
        int maxIterations = 5000)
    {
        Check(a, n);
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"k must be in [0, {n}], got {k}");
        int b = Math.Min(n, k + Math.Max(8, k / 2));
        if (n <= JacobiSize || b * 2 >= n)
        {
            var (allValues, allVectors) = Jacobi(a, n);
            return (allValues[..k], allVectors[..(k * n)]);
        }
        var q = Gaussian(0, uint.MaxValue, 0, b * n);
        Orthonormalize(q, b, n, 0);
        var z = new double[b * n];
        double worst = double.PositiveInfinity;
        for (int iteration = 1; iteration <= maxIterations; iteration++)
        {
            Multiply(a, q, z, b, n);
            var h = new double[b * b];
            for (int i = 0; i < b; i++)
                for (int j = i; j < b; j++)
                    h[i * b + j] = h[j * b + i] = 0.5 * (Dot(q, i, z, j, n) + Dot(q, j, z, i, n));
            var (theta, w) = Jacobi(h, b);
            var u = Combine(w, q, b, n);
            var au = Combine(w, z, b, n);
            worst = 0;
            for (int i = 0; i < k; i++)
            {
                double r = 0;
                for (int x = 0; x < n; x++) r += Square(au[i * n + x] - theta[i] * u[i * n + x]);
                worst = Math.Max(worst, Math.Sqrt(r));
            }
            double scale = Math.Max(Math.Abs(theta[0]), double.Epsilon);
            if (worst <= tolerance * scale) return (theta[..k], u[..(k * n)]);
            Array.Copy(au, q, q.Length);
            Orthonormalize(q, b, n, (uint)iteration);
        }
        throw new InvalidOperationException(
            $"subspace iteration for the top {k} eigenpairs of a {n}×{n} matrix did not converge in {maxIterations} " +
            $"iterations: largest residual ‖Au − θu‖ = {worst:G3}");
    }

    /// <summary>One Jacobi rotation in the (p, q) plane: m ← Jᵀ m J, v ← v J.</summary>
    private static void Rotate(double[] m, double[] v, int n, int p, int q, bool dropNegligible)
    {
        double apq = m[p * n + q], g = 100 * Math.Abs(apq);
        if (dropNegligible && Math.Abs(m[p * n + p]) + g == Math.Abs(m[p * n + p])
                           && Math.Abs(m[q * n + q]) + g == Math.Abs(m[q * n + q]))
            m[p * n + q] = m[q * n + p] = apq = 0;
        if (apq == 0) return;
        double tau = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        double t = Math.Abs(tau) > 1e150 ? 0.5 / tau
            : (tau >= 0 ? 1 : -1) / (Math.Abs(tau) + Math.Sqrt(tau * tau + 1));
        double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
        for (int i = 0; i < n; i++)
        {
            double mip = m[i * n + p], miq = m[i * n + q];
            m[i * n + p] = c * mip - s * miq;
            m[i * n + q] = s * mip + c * miq;
        }
        for (int i = 0; i < n; i++)
        {
            double mpi = m[p * n + i], mqi = m[q * n + i];
            m[p * n + i] = c * mpi - s * mqi;
            m[q * n + i] = s * mpi + c * mqi;
        }
        m[p * n + q] = m[q * n + p] = 0; // exactly zero by the choice of t; kill the rounding residue
        for (int i = 0; i < n; i++)
        {
            double vip = v[i * n + p], viq = v[i * n + q];
            v[i * n + p] = c * vip - s * viq;
            v[i * n + q] = s * vip + c * viq;
        }
    }

    /// <summary>Row j of z = A·(row j of q), rows in parallel (each a set of independent dot products).</summary>
    private static void Multiply(double[] a, double[] q, double[] z, int b, int n) =>
        Parallel.For(0, n, i =>
        {
            for (int j = 0; j < b; j++) z[j * n + i] = Dot(a, i, q, j, n);
        });

    /// <summary>Ritz vectors: result row i = Σ_j w[i, j]·rows[j], where row i of the b×b w is H's eigenvector i
    /// (as <see cref="Jacobi"/> returns them).</summary>
    private static double[] Combine(double[] w, double[] rows, int b, int n)
    {
        var result = new double[b * n];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++)
            {
                double f = w[i * b + j];
                if (f == 0) continue;
                for (int x = 0; x < n; x++) result[i * n + x] += f * rows[j * n + x];
            }
        return result;
    }

    /// <summary>
    /// Modified Gram–Schmidt on the b rows, twice ("twice is enough", Giraud et al. 2005). A row that vanishes (A has
    /// rank below b) is replaced by a fresh Gaussian one, orthogonalized the same way, so Q stays a full basis.
    /// </summary>
    private static void Orthonormalize(double[] q, int b, int n, uint iteration)
    {
        for (int i = 0; i < b; i++)
        {
            for (int attempt = 0; ; attempt++)
            {
                double before = Math.Sqrt(Dot(q, i, q, i, n));
                for (int pass = 0; pass < 2; pass++)
                    for (int j = 0; j < i; j++)
                    {
                        double d = Dot(q, i, q, j, n);
                        for (int x = 0; x < n; x++) q[i * n + x] -= d * q[j * n + x];
                    }
                double norm = Math.Sqrt(Dot(q, i, q, i, n));
                if (norm > 1e-10 * before && norm > 0)
                {
                    for (int x = 0; x < n; x++) q[i * n + x] /= norm;
                    break;
                }
                if (attempt > 8)
                    throw new InvalidOperationException($"cannot complete an orthonormal basis of {b} rows");
                Gaussian(iteration, (uint)i, (uint)(attempt * n), n).CopyTo(q, i * n);
            }
        }
    }

    private static double Dot(double[] a, int rowA, double[] b, int rowB, int n)
    {
        var x = a.AsSpan(rowA * n, n);
        var y = b.AsSpan(rowB * n, n);
        var sum = Vector<double>.Zero;
        int i = 0;
        for (; i <= n - Vector<double>.Count; i += Vector<double>.Count)
            sum += new Vector<double>(x[i..]) * new Vector<double>(y[i..]);
        double total = Vector.Sum(sum);
        for (; i < n; i++) total += x[i] * y[i];
        return total;
    }

    /// <summary>Deterministic Gaussian start vectors (Philox, see <see cref="ProxyDraws.Normals"/>).</summary>
    private static double[] Gaussian(ulong seed, uint sample, uint firstElement, int length)
    {
        var values = new float[length];
        ProxyDraws.Normals(seed, ProxyDraws.StreamEigen, sample, firstElement, values);
        return values.Select(x => (double)x).ToArray();
    }

    private static double Square(double x) => x * x;

    private static void Check(double[] a, int n)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (n < 1 || a.LongLength != (long)n * n)
            throw new ArgumentException($"expected an n×n matrix with n >= 1, got {a.Length} values for n = {n}");
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (!(Math.Abs(a[i * n + j] - a[j * n + i]) <= 1e-9 * (Math.Abs(a[i * n + j]) + Math.Abs(a[j * n + i]))
                      || a[i * n + j] == a[j * n + i]))
                    throw new ArgumentException(
                        $"the matrix is not symmetric: a[{i},{j}] = {a[i * n + j]} but a[{j},{i}] = {a[j * n + i]}");
    }
}
