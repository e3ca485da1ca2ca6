using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/distance.cu. Shape letters: A is N×D, B is M×D, Dist and G (= dL/dDist) are N×M.
// Distances between two rows u, v, with clamped norms |u|e = max(|u|, 1e-8):
//   SquaredEuclidean  s = sum_k (u_k - v_k)^2, summed directly in double (so it is never negative)
//   Euclidean         sqrt(s)
//   Cosine            c = u.v / (|u|e |v|e)   (a similarity; a zero row gives c = 0)
//   Angular           1 - |c|                 (TLA, Mao et al. 2019)
// Every distance is computed in double and rounded once to float when it is stored.
public sealed partial class CpuBackend
{
    /// <summary>The floor of a row norm in the cosine and angular distances.</summary>
    private const double DistanceNormFloor = 1e-8;

    // ---- PairwiseDistance ----
    // dist[i,j] = d(a_i, b_j). One thread per row i of A.
    public void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist)
    {
        int n = a.Shape[0], m = b.Shape[0], d = a.Shape[1];
        Parallel.For(0, n, i =>
        {
            ReadOnlySpan<float> ai = a.F().Slice(i * d, d), bAll = b.F();
            var row = dist.F().Slice(i * m, m);
            for (int j = 0; j < m; j++)
                row[j] = (float)RowDistance(kind, ai, bAll.Slice(j * d, d));
        });
    }

    // ---- PairwiseDistanceBackward ----
    // Given G = dL/dDist, with e_ij = a_i - b_j and d_ij = d(a_i, b_j):
    //   SquaredEuclidean  dA_i =  sum_j 2 G_ij e_ij,          dB_j = -sum_i 2 G_ij e_ij
    //   Euclidean         the same with 2 G_ij replaced by G_ij / d_ij, and 0 where d_ij == 0 (a subgradient)
    //   Cosine            dc/da = b / (|a|e |b|e) - c a [|a| > 1e-8] / |a|e^2, and dc/db symmetrically
    //   Angular           dD/dc = -sign(c), sign(0) = 0, chained into the cosine rule
    // dA is summed over j by the thread that owns row i, dB over i by the thread that owns row j (double
    // accumulators), so each pair's local derivative is computed twice; that keeps the result deterministic
    // without atomics.
    public void PairwiseDistanceBackward(DistanceKind kind, Tensor a, Tensor b, Tensor gradDist, Tensor gradA,
        Tensor gradB)
    {
        int n = a.Shape[0], m = b.Shape[0], d = a.Shape[1];
        Parallel.For(0, n, i =>
        {
            var acc = new double[d];
            ReadOnlySpan<float> ai = a.F().Slice(i * d, d), bAll = b.F(), g = gradDist.F();
            for (int j = 0; j < m; j++)
                AccumulateRowDistanceGrad(kind, ai, bAll.Slice(j * d, d), g[i * m + j], acc, Span<double>.Empty);
            StoreDoubleRow(acc, gradA.F().Slice(i * d, d));
        });
        Parallel.For(0, m, j =>
        {
            var acc = new double[d];
            ReadOnlySpan<float> bj = b.F().Slice(j * d, d), aAll = a.F(), g = gradDist.F();
            for (int i = 0; i < n; i++)
                AccumulateRowDistanceGrad(kind, aAll.Slice(i * d, d), bj, g[i * m + j], Span<double>.Empty, acc);
            StoreDoubleRow(acc, gradB.F().Slice(j * d, d));
        });
    }

    /// <summary>d(u, v) of the given kind, in double (see the file header).</summary>
    private static double RowDistance(DistanceKind kind, ReadOnlySpan<float> u, ReadOnlySpan<float> v)
    {
        switch (kind)
        {
            case DistanceKind.SquaredEuclidean:
                return SquaredDistance(u, v);
            case DistanceKind.Euclidean:
                return Math.Sqrt(SquaredDistance(u, v));
            case DistanceKind.Cosine:
                return CosineOf(u, v, out _, out _);
            case DistanceKind.Angular:
                return 1.0 - Math.Abs(CosineOf(u, v, out _, out _));
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown distance");
        }
    }

    /// <summary>sum_k (u_k - v_k)^2 in double: each difference of two floats is exact in double.</summary>
    private static double SquaredDistance(ReadOnlySpan<float> u, ReadOnlySpan<float> v)
    {
        double s = 0;
        for (int k = 0; k < u.Length; k++)
        {
            double e = (double)u[k] - v[k];
            s += e * e;
        }
        return s;
    }

    /// <summary>c = u.v / (|u|e |v|e), also giving the unclamped norms |u| and |v|.</summary>
    private static double CosineOf(ReadOnlySpan<float> u, ReadOnlySpan<float> v, out double normU, out double normV)
    {
        double dot = 0, uu = 0, vv = 0;
        for (int k = 0; k < u.Length; k++)
        {
            dot += (double)u[k] * v[k];
            uu += (double)u[k] * u[k];
            vv += (double)v[k] * v[k];
        }
        normU = Math.Sqrt(uu);
        normV = Math.Sqrt(vv);
        return dot / (Math.Max(normU, DistanceNormFloor) * Math.Max(normV, DistanceNormFloor));
    }

    /// <summary>
    /// Adds g·∂d(u,v)/∂u to <paramref name="gradU"/> and g·∂d(u,v)/∂v to <paramref name="gradV"/>; an empty span
    /// skips that side. The rules are the ones in the PairwiseDistanceBackward comment.
    /// </summary>
    private static void AccumulateRowDistanceGrad(DistanceKind kind, ReadOnlySpan<float> u, ReadOnlySpan<float> v,
        double g, Span<double> gradU, Span<double> gradV)
    {
        if (g == 0) return;
        if (kind is DistanceKind.SquaredEuclidean or DistanceKind.Euclidean)
        {
            // d(u,v) = f(s): ∂/∂u = f'(s) 2 e, ∂/∂v = -f'(s) 2 e, with 2 f'(s) = 2 (squared) or 1/d (Euclidean).
            double w;
            if (kind == DistanceKind.SquaredEuclidean)
            {
                w = 2 * g;
            }
            else
            {
                double dist = Math.Sqrt(SquaredDistance(u, v));
                if (dist == 0) return;
                w = g / dist;
            }
            for (int k = 0; k < u.Length; k++)
            {
                double e = (double)u[k] - v[k];
                if (!gradU.IsEmpty) gradU[k] += w * e;
                if (!gradV.IsEmpty) gradV[k] -= w * e;
            }
            return;
        }

        double c = CosineOf(u, v, out double normU, out double normV);
        double gc = kind == DistanceKind.Cosine ? g : -DistanceSign(c) * g;
        if (gc == 0) return;
        double nu = Math.Max(normU, DistanceNormFloor), nv = Math.Max(normV, DistanceNormFloor);
        double cross = gc / (nu * nv);
        double selfU = normU > DistanceNormFloor ? gc * c / (nu * nu) : 0;
        double selfV = normV > DistanceNormFloor ? gc * c / (nv * nv) : 0;
        for (int k = 0; k < u.Length; k++)
        {
            if (!gradU.IsEmpty) gradU[k] += cross * v[k] - selfU * u[k];
            if (!gradV.IsEmpty) gradV[k] += cross * u[k] - selfV * v[k];
        }
    }

    /// <summary>sign(x) with sign(0) = 0 (and 0 for NaN, where Math.Sign would throw).</summary>
    private static double DistanceSign(double x) => x > 0 ? 1 : x < 0 ? -1 : 0;

    private static void StoreDoubleRow(ReadOnlySpan<double> acc, Span<float> dst)
    {
        for (int k = 0; k < acc.Length; k++) dst[k] = (float)acc[k];
    }
}
