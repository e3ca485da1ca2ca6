using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>
/// kernels/distance.cu (+ cuBLAS) against the CPU twins (CpuBackend.Distance.cs). Shape letters: A N×D, B M×D,
/// Dist and G N×M.
/// </summary>
[TestFixture, Category("Gpu")]
public class DistanceParityTests
{
    private static readonly (int N, int M, int D)[] Sizes =
        [(1, 1, 1), (7, 33, 3), (33, 7, 17), (130, 33, 512), (33, 130, 777), (130, 7, 1)];

    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    private static IEnumerable<TestCaseData> Cases() =>
        from kind in Enum.GetValues<DistanceKind>()
        from s in Sizes
        select new TestCaseData(kind, s.N, s.M, s.D);

    [TestCaseSource(nameof(Cases))]
    public void PairwiseDistance_RandomInput_GpuMatchesCpu(DistanceKind kind, int n, int m, int d)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] a = rng.Normal(n * d), b = rng.Normal(m * d);
        float[] Run(IBackend backend)
        {
            using var ta = Tensor.FromArray(backend, a, n, d);
            using var tb = Tensor.FromArray(backend, b, m, d);
            using var dist = Ops.PairwiseDistance(kind, ta, tb);
            return dist.ToArray();
        }
        var (atol, rtol) =
            DistanceTolerance.For(kind, DistanceTolerance.MaxNorm2(a, d), DistanceTolerance.MaxNorm2(b, d));
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), atol, rtol, $"{kind} N={n} M={m} D={d}, seed {rng.Seed}");
    }

    [TestCaseSource(nameof(Cases))]
    public void PairwiseDistanceBackward_RandomInput_GpuMatchesCpu(DistanceKind kind, int n, int m, int d)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] a = rng.Normal(n * d), b = rng.Normal(m * d), g = rng.Normal(n * m);
        MaskNonSmooth(kind, a, b, g, n, m, d);
        var (cpuA, cpuB) = Backward(Backends.Cpu, kind, a, b, g, n, m, d);
        var (gpuA, gpuB) = Backward(_gpu, kind, a, b, g, n, m, d);
        float[] gT = Enumerable.Range(0, m * n).Select(e => g[(e % n) * m + e / n]).ToArray();
        string what = $"{kind} N={n} M={m} D={d}, seed {rng.Seed}";
        AssertClose.All(cpuA, gpuA, GradientAtol(kind, a, b, g, d), 1e-3, $"dA {what}");
        AssertClose.All(cpuB, gpuB, GradientAtol(kind, b, a, gT, d), 1e-3, $"dB {what}");
    }

    [TestCase(DistanceKind.SquaredEuclidean)]
    [TestCase(DistanceKind.Euclidean)]
    [TestCase(DistanceKind.Cosine)]
    [TestCase(DistanceKind.Angular)]
    public void PairwiseDistance_ZeroRows_GpuMatchesCpu(DistanceKind kind)
    {
        // Row 1 of A and row 0 of B are zero: clamped norms, a zero Euclidean distance, cosine 0.
        const int n = 3, m = 2, d = 5;
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        float[] a = rng.Normal(n * d), b = rng.Normal(m * d), g = rng.Normal(n * m);
        Array.Clear(a, d, d);
        Array.Clear(b, 0, d);
        float[] Forward(IBackend backend)
        {
            using var ta = Tensor.FromArray(backend, a, n, d);
            using var tb = Tensor.FromArray(backend, b, m, d);
            using var dist = Ops.PairwiseDistance(kind, ta, tb);
            return dist.ToArray();
        }
        AssertClose.All(Forward(Backends.Cpu), Forward(_gpu), 1e-5, 1e-5, $"{kind} forward");
        var (cpuA, cpuB) = Backward(Backends.Cpu, kind, a, b, g, n, m, d);
        var (gpuA, gpuB) = Backward(_gpu, kind, a, b, g, n, m, d);
        // Against a zero row the cosine gradient is scaled by 1 / 1e-8: compare relatively.
        AssertClose.All(cpuA, gpuA, 1e-5, 1e-4, $"{kind} dA");
        AssertClose.All(cpuB, gpuB, 1e-5, 1e-4, $"{kind} dB");
    }

    private static (float[] GradA, float[] GradB) Backward(IBackend backend, DistanceKind kind, float[] a, float[] b,
        float[] g, int n, int m, int d)
    {
        using var ta = Tensor.FromArray(backend, a, n, d);
        using var tb = Tensor.FromArray(backend, b, m, d);
        using var tg = Tensor.FromArray(backend, g, n, m);
        using var gradA = Tensor.Zeros(backend, n, d);
        using var gradB = Tensor.Zeros(backend, m, d);
        Ops.PairwiseDistanceBackward(kind, ta, tb, tg, gradA, gradB);
        return (gradA.ToArray(), gradB.ToArray());
    }

    /// <summary>
    /// Zeroes G where the local derivative jumps: Euclidean distances below 0.3 (the GPU's distance from the expanded
    /// square is least accurate there, and 1/d amplifies it) and angular pairs with |cosine| below 1e-3 (sign flip).
    /// </summary>
    private static void MaskNonSmooth(DistanceKind kind, float[] a, float[] b, float[] g, int n, int m, int d)
    {
        if (kind is not (DistanceKind.Euclidean or DistanceKind.Angular)) return;
        using var ta = Tensor.FromArray(Backends.Cpu, a, n, d);
        using var tb = Tensor.FromArray(Backends.Cpu, b, m, d);
        var probe = kind == DistanceKind.Euclidean ? DistanceKind.Euclidean : DistanceKind.Cosine;
        using var dist = Ops.PairwiseDistance(probe, ta, tb);
        float[] v = dist.ToArray();
        float limit = kind == DistanceKind.Euclidean ? 0.3f : 1e-3f;
        for (int e = 0; e < v.Length; e++)
        {
            if (Math.Abs(v[e]) < limit) g[e] = 0f;
        }
    }

    /// <summary>
    /// An absolute tolerance for dX (X rows×D against Y, with G rows×|Y|): 1e-5 of the largest sum of absolute terms
    /// behind one element, sum_j |G_ij| max_k |∂d(x_i, y_j)/∂x_ik|. The GPU forms dX as a difference of two GEMM-sized
    /// sums (kernels/distance.cu), which can cancel to 0 (in 1-D the cosine gradient is exactly 0), so the rounding
    /// scales with the terms, not with the result.
    /// </summary>
    private static double GradientAtol(DistanceKind kind, float[] x, float[] y, float[] g, int d)
    {
        int rows = x.Length / d, cols = y.Length / d;
        double maxX = x.Max(Math.Abs), maxY = y.Max(Math.Abs), worst = 0;
        for (int i = 0; i < rows; i++)
        {
            double sum = 0, xx = 0;
            for (int k = 0; k < d; k++) xx += (double)x[i * d + k] * x[i * d + k];
            for (int j = 0; j < cols; j++)
            {
                double sq = 0;
                for (int k = 0; k < d; k++) sq += Math.Pow((double)x[i * d + k] - y[j * d + k], 2);
                double bound = kind switch
                {
                    DistanceKind.SquaredEuclidean => 2 * (maxX + maxY),
                    DistanceKind.Euclidean => sq > 0 ? (maxX + maxY) / Math.Sqrt(sq) : 0,
                    _ => 2 / Math.Max(Math.Sqrt(xx), 1e-8),
                };
                sum += Math.Abs(g[i * cols + j]) * bound;
            }
            worst = Math.Max(worst, sum);
        }
        return 1e-5 * worst + 1e-6;
    }
}

/// <summary>Tolerances for GPU distances against the CPU reference (computed in double, rounded once).</summary>
internal static class DistanceTolerance
{
    private const double FloatUnitRoundoff = 1.0 / (1 << 24);

    /// <summary>
    /// (atol, rtol) for distances between rows of squared norm at most <paramref name="maxNorm2A"/> and
    /// <paramref name="maxNorm2B"/>. The GPU forms the squared distance as |a|^2 + |b|^2 - 2 a.b in float
    /// (distance_from_dot in kernels/common.cuh), which loses a few ulps of |a|^2 + |b|^2 however small the
    /// distance is; the Euclidean distance is its square root, so near 0 its error is the root of that.
    /// </summary>
    public static (double Atol, double Rtol) For(DistanceKind kind, double maxNorm2A, double maxNorm2B)
    {
        double squared = 32 * FloatUnitRoundoff * (maxNorm2A + maxNorm2B) + 1e-7;
        return kind switch
        {
            DistanceKind.SquaredEuclidean => (squared, 1e-5),
            DistanceKind.Euclidean => (Math.Sqrt(squared), 1e-5),
            _ => (1e-5, 0),
        };
    }

    /// <summary>The largest squared row norm of a rows×d matrix.</summary>
    public static double MaxNorm2(float[] rows, int d)
    {
        double max = 0;
        for (int r = 0; r < rows.Length / d; r++)
        {
            double s = 0;
            for (int k = r * d; k < (r + 1) * d; k++) s += (double)rows[k] * rows[k];
            max = Math.Max(max, s);
        }
        return max;
    }
}
