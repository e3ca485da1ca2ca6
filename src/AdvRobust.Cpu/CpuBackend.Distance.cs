using System.Runtime.Intrinsics;
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
//
// The pairwise forward and the mining (CpuBackend.Triplet.cs) take the dot products of all pairs from RowDots, a
// blocked double GEMM, and finish each block in an epilogue, as the GPU does from cuBLAS (distance_from_dot in
// kernels/common.cuh), but in double:
//   s = max(|u|² + |v|² − 2 u.v, 0)  (squared Euclidean; Euclidean √s)   c = u.v / (|u|e |v|e)  (cosine, angular)
// RowDots sums each u.v, and SquaredNorms each |u|², in the same order and rounding as the row loops below
// (PairwiseDistanceReference), so the cosine and angular distances are bit for bit those of the reference; the
// squared Euclidean one differs from the direct Σ (u_k − v_k)² by the double rounding of the expansion (about
// 1e-16·(|u|² + |v|²)), far below a float's, so it rounds to the same float but in rare near-ties. A row against an
// identical row still gives exactly 0 (the sums are bit-equal), and the clamp keeps s ≥ 0.
public sealed partial class CpuBackend
{
    /// <summary>The floor of a row norm in the cosine and angular distances.</summary>
    private const double DistanceNormFloor = 1e-8;

    // ---- PairwiseDistance ----
    // dist[i,j] = d(a_i, b_j): RowDots blocks of A·Bᵀ in double, each finished by DistanceRow.
    public void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist)
    {
        int n = a.Shape[0], m = b.Shape[0], d = a.Shape[1];
        double[] na2 = SquaredNorms(a.F(), n, d), nb2 = SquaredNorms(b.F(), m, d);
        RowDots.Run(a.F(), n, b.F(), m, d, (i0, rows, j0, cols, dot, ld) =>
        {
            Span<float> all = dist.F();
            for (int r = 0; r < rows; r++)
                DistanceRow(kind, dot.Slice(r * ld, cols), na2[i0 + r], nb2.AsSpan(j0, cols),
                    all.Slice((i0 + r) * m + j0, cols));
        });
    }

    /// <summary>The readable oracle of <see cref="PairwiseDistance"/>: one RowDistance per pair, one thread per row.</summary>
    internal static void PairwiseDistanceReference(DistanceKind kind, Tensor a, Tensor b, Tensor dist)
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

    /// <summary>|x_r|² = Σ_k x_rk² in double, in order k = 0..D−1 (as CosineOf sums it).</summary>
    private static double[] SquaredNorms(ReadOnlySpan<float> x, int rows, int d)
    {
        var norms = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            foreach (float v in x.Slice(r * d, d)) s += (double)v * v;
            norms[r] = s;
        }
        return norms;
    }

    /// <summary>
    /// out[j] = (float) d(u, v_j) from dot[j] = u.v_j, uu = |u|², vv[j] = |v_j|² (the formulas in the file header),
    /// eight columns at a time. The vector operations round as the scalar ones (no contraction), so the lanes and
    /// the scalar tail agree bit for bit.
    /// </summary>
    private static void DistanceRow(DistanceKind kind, ReadOnlySpan<double> dot, double uu, ReadOnlySpan<double> vv,
        Span<float> dst)
    {
        int cols = dst.Length, j = 0;
        double nu = Math.Max(Math.Sqrt(uu), DistanceNormFloor);
        if (Vector512.IsHardwareAccelerated)
        {
            var vuu = Vector512.Create(uu);
            var vnu = Vector512.Create(nu);
            var floor = Vector512.Create(DistanceNormFloor);
            for (; j + 8 <= cols; j += 8)
            {
                var vdot = Vector512.Create(dot.Slice(j, 8));
                var vvv = Vector512.Create(vv.Slice(j, 8));
                Vector512<double> r;
                if (kind is DistanceKind.SquaredEuclidean or DistanceKind.Euclidean)
                {
                    r = vuu + vvv - Vector512.Create(2.0) * vdot;
                    r = Vector512.ConditionalSelect(Vector512.LessThan(r, Vector512<double>.Zero),
                        Vector512<double>.Zero, r);
                    if (kind == DistanceKind.Euclidean) r = Vector512.Sqrt(r);
                }
                else
                {
                    var nv = Vector512.Sqrt(vvv);
                    nv = Vector512.ConditionalSelect(Vector512.LessThan(nv, floor), floor, nv);
                    r = vdot / (vnu * nv);
                    if (kind == DistanceKind.Angular) r = Vector512<double>.One - Vector512.Abs(r);
                }
                Vector256.Narrow(r.GetLower(), r.GetUpper()).CopyTo(dst.Slice(j, 8));
            }
        }
        for (; j < cols; j++) dst[j] = (float)DistanceFromDot(kind, dot[j], uu, nu, vv[j]);
    }

    /// <summary>d(u, v) from u.v, |u|², the clamped |u|e and |v|² (the file header's formulas).</summary>
    private static double DistanceFromDot(DistanceKind kind, double dot, double uu, double nu, double vv) => kind switch
    {
        DistanceKind.SquaredEuclidean => Math.Max(uu + vv - 2 * dot, 0),
        DistanceKind.Euclidean => Math.Sqrt(Math.Max(uu + vv - 2 * dot, 0)),
        DistanceKind.Cosine => dot / (nu * Math.Max(Math.Sqrt(vv), DistanceNormFloor)),
        DistanceKind.Angular => 1.0 - Math.Abs(dot / (nu * Math.Max(Math.Sqrt(vv), DistanceNormFloor))),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown distance"),
    };

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
        CpuParallel.For(0, n, i =>
        {
            var acc = new double[d];
            ReadOnlySpan<float> ai = a.F().Slice(i * d, d), bAll = b.F(), g = gradDist.F();
            for (int j = 0; j < m; j++)
                AccumulateRowDistanceGrad(kind, ai, bAll.Slice(j * d, d), g[i * m + j], acc, Span<double>.Empty);
            StoreDoubleRow(acc, gradA.F().Slice(i * d, d));
        });
        CpuParallel.For(0, m, j =>
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
