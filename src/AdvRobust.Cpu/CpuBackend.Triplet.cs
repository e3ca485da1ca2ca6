using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/triplet.cu. Shape letters: anchors A are N×D with N labels, the pool P is M×D with M labels;
// in the triplet loss A, P (positives) and Q (negatives) are row-aligned N×D. Row distances d(u, v) are the ones of
// CpuBackend.Distance.cs (double, rounded to float where stored).
public sealed partial class CpuBackend
{
    // ---- MineTriplets ----
    // For each anchor i, scan the pool j = 0..M-1 in order, skipping j == i when ExcludeSelf; pool rows with the
    // anchor's label are positives, all others negatives. Each distance is rounded to float before it is compared,
    // so the comparisons are the ones the outputs show.
    //   BatchHard  positive = argmax_j d(i,j) over positives, negative = argmin_j d(i,j) over negatives.
    //   SemiHard   positive as in BatchHard (d_ap its distance); negative = argmin { d(i,j) : d(i,j) > d_ap } over
    //              negatives, or, when no negative is farther than d_ap, argmax over negatives (TF-Addons' rule).
    //              An anchor with no positive uses d_ap = 0 (its reported PositiveDistance).
    // Ties go to the lowest j (strict comparisons while scanning in order). No positive: PositiveIndex -1 and
    // PositiveDistance 0; no negative likewise. Only the per-anchor best is kept, never the N×M matrix: the
    // distances come block by block from RowDots (the pairwise path of CpuBackend.Distance.cs, so they are bit for
    // bit the ones PairwiseDistance stores), and each block updates its anchors' running bests in pool order
    // (MiningScan: 16 columns at a time with AVX-512, the plain in-order loop otherwise, with the same results). A
    // SemiHard anchor whose nearest negative is not beyond d_ap, but whose farthest is, needs a second sweep.
    public void MineTriplets(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool, Tensor poolLabels,
        MinedTriplets result) =>
        MineTripletsForRows(p, anchors, anchorLabels, pool, poolLabels, null, result);

    /// <summary>
    /// MineTriplets for anchors that are some rows of the pool: with ExcludeSelf, anchor i skips pool row
    /// <paramref name="selfRows"/>[i] (row i when null). Lets a test check a sample of anchors against a large pool.
    /// </summary>
    internal void MineTripletsForRows(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool,
        Tensor poolLabels, int[]? selfRows, MinedTriplets result)
    {
        int n = anchors.Shape[0], m = pool.Shape[0], d = anchors.Shape[1];
        var self = new int[n];
        for (int i = 0; i < n; i++) self[i] = !p.ExcludeSelf ? -1 : selfRows?[i] ?? i;
        int[] ya = anchorLabels.I().ToArray(), yp = poolLabels.I().ToArray();
        double[] na2 = SquaredNorms(anchors.F(), n, d), np2 = SquaredNorms(pool.F(), m, d);
        var best = new AnchorBest[n];
        Array.Fill(best, new AnchorBest(-1, 0, -1, 0, -1, 0));

        // Sweep 1: farthest positive, nearest and farthest negative.
        RowDots.Run(anchors.F(), n, pool.F(), m, d, (i0, rows, j0, cols, dot, ld) =>
        {
            Span<float> dist = stackalloc float[cols];
            for (int r = 0; r < rows; r++)
            {
                int i = i0 + r;
                DistanceRow(p.Distance, dot.Slice(r * ld, cols), na2[i], np2.AsSpan(j0, cols), dist);
                MiningScan.Scan(ref best[i], dist, yp.AsSpan(j0, cols), ya[i], j0, self[i]);
            }
        });

        // Sweep 2 (SemiHard only): the nearest negative beyond d_ap, for the anchors that need it.
        var needs = new bool[n];
        var neg = new (int Index, float Distance)[n];
        for (int i = 0; i < n; i++)
        {
            var s = best[i];
            neg[i] = (s.Near, s.DNear);
            if (p.Kind == MiningKind.BatchHard || s.Near < 0 || s.DNear > s.DPos) continue;
            if (s.DFar <= s.DPos) neg[i] = (s.Far, s.DFar);
            else (needs[i], neg[i]) = (true, (-1, 0));
        }
        if (needs.Contains(true))
        {
            RowDots.Run(anchors.F(), n, pool.F(), m, d, (i0, rows, j0, cols, dot, ld) =>
            {
                Span<float> dist = stackalloc float[cols];
                for (int r = 0; r < rows; r++)
                {
                    int i = i0 + r, label = ya[i];
                    if (!needs[i]) continue;
                    DistanceRow(p.Distance, dot.Slice(r * ld, cols), na2[i], np2.AsSpan(j0, cols), dist);
                    float dPos = best[i].DPos;
                    ref var q = ref neg[i];
                    for (int c = 0; c < cols; c++)
                    {
                        int j = j0 + c;
                        if (j == self[i] || yp[j] == label) continue;
                        if (dist[c] > dPos && (q.Index < 0 || dist[c] < q.Distance)) q = (j, dist[c]);
                    }
                }
            });
        }

        for (int i = 0; i < n; i++)
        {
            result.PositiveIndex.I()[i] = best[i].Pos;
            result.PositiveDistance.F()[i] = best[i].DPos;
            result.NegativeIndex.I()[i] = neg[i].Index;
            result.NegativeDistance.F()[i] = neg[i].Distance;
        }
    }

    /// <summary>
    /// The readable oracle of <see cref="MineTripletsForRows"/>: one anchor per thread, one RowDistance per pair,
    /// in the same order and with the same comparisons.
    /// </summary>
    internal static void MineTripletsReference(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool,
        Tensor poolLabels, int[]? selfRows, MinedTriplets result)
    {
        int n = anchors.Shape[0], d = anchors.Shape[1];
        CpuParallel.For(0, n, i =>
        {
            int self = !p.ExcludeSelf ? -1 : selfRows?[i] ?? i;
            var (pos, dPos, neg, dNeg) = MineAnchor(p, anchors.F().Slice(i * d, d), anchorLabels.I()[i], pool.F(),
                poolLabels.I(), self);
            result.PositiveIndex.I()[i] = pos;
            result.PositiveDistance.F()[i] = dPos;
            result.NegativeIndex.I()[i] = neg;
            result.NegativeDistance.F()[i] = dNeg;
        });
    }

    /// <summary>One anchor's scan over the pool (M×D), skipping pool row <paramref name="self"/>.</summary>
    private static (int Pos, float DPos, int Neg, float DNeg) MineAnchor(MiningParams p, ReadOnlySpan<float> a,
        int label, ReadOnlySpan<float> pool, ReadOnlySpan<int> poolLabels, int self)
    {
        int m = poolLabels.Length, d = a.Length;

        // Pass 1: farthest positive, nearest and farthest negative.
        int pos = -1, near = -1, far = -1;
        float dPos = 0, dNear = 0, dFar = 0;
        for (int j = 0; j < m; j++)
        {
            if (j == self) continue;
            float dist = (float)RowDistance(p.Distance, a, pool.Slice(j * d, d));
            if (poolLabels[j] == label)
            {
                if (pos < 0 || dist > dPos) (pos, dPos) = (j, dist);
            }
            else
            {
                if (near < 0 || dist < dNear) (near, dNear) = (j, dist);
                if (far < 0 || dist > dFar) (far, dFar) = (j, dist);
            }
        }
        if (p.Kind == MiningKind.BatchHard || near < 0 || dNear > dPos)
            return (pos, dPos, near, dNear);

        // SemiHard, and the nearest negative is not farther than the positive. If even the farthest is not, fall
        // back to it; otherwise pass 2 finds the nearest negative beyond d_ap.
        if (dFar <= dPos)
            return (pos, dPos, far, dFar);
        int neg = -1;
        float dNeg = 0;
        for (int j = 0; j < m; j++)
        {
            if (j == self || poolLabels[j] == label) continue;
            float dist = (float)RowDistance(p.Distance, a, pool.Slice(j * d, d));
            if (dist > dPos && (neg < 0 || dist < dNeg)) (neg, dNeg) = (j, dist);
        }
        return (pos, dPos, neg, dNeg);
    }

    // ---- TripletLoss ----
    // loss_i = max(0, h_i) with the hinge h_i = d(a_i, p_i) - d(a_i, q_i) + margin, in double. One thread per row.
    public void TripletLoss(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor loss)
    {
        int rows = a.Shape[0], d = a.Shape[1];
        CpuParallel.For(0, rows, i =>
        {
            double h = TripletHinge(kind, margin, a.F().Slice(i * d, d), p.F().Slice(i * d, d), n.F().Slice(i * d, d));
            loss.F()[i] = h > 0 ? (float)h : 0f;
        });
    }

    // ---- TripletLossBackward ----
    // Where h_i > 0:  gA = gl_i (∂d_ap/∂a - ∂d_an/∂a),  gP = gl_i ∂d_ap/∂p,  gQ = -gl_i ∂d_an/∂q;  elsewhere zeros.
    // The row derivatives are those of PairwiseDistanceBackward (0 at a zero Euclidean distance, sign(0) = 0).
    public void TripletLossBackward(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor gradLoss,
        Tensor gradA, Tensor gradP, Tensor gradN)
    {
        int rows = a.Shape[0], d = a.Shape[1];
        CpuParallel.For(0, rows, i =>
        {
            ReadOnlySpan<float> ai = a.F().Slice(i * d, d), pi = p.F().Slice(i * d, d), ni = n.F().Slice(i * d, d);
            var gA = new double[d];
            var gP = new double[d];
            var gN = new double[d];
            double gl = gradLoss.F()[i];
            if (TripletHinge(kind, margin, ai, pi, ni) > 0)
            {
                AccumulateRowDistanceGrad(kind, ai, pi, gl, gA, gP);
                AccumulateRowDistanceGrad(kind, ai, ni, -gl, gA, gN);
            }
            StoreDoubleRow(gA, gradA.F().Slice(i * d, d));
            StoreDoubleRow(gP, gradP.F().Slice(i * d, d));
            StoreDoubleRow(gN, gradN.F().Slice(i * d, d));
        });
    }

    private static double TripletHinge(DistanceKind kind, float margin, ReadOnlySpan<float> a, ReadOnlySpan<float> p,
        ReadOnlySpan<float> n) =>
        RowDistance(kind, a, p) - RowDistance(kind, a, n) + margin;

    // ---- GatherRows ----
    // dst[i,:] = src[index[i],:], a zero row where index[i] == -1. Every index is checked before anything is
    // written, so a bad index leaves dst untouched.
    public void GatherRows(Tensor src, Tensor index, Tensor dst)
    {
        int m = src.Shape[0], d = src.Shape[1];
        ReadOnlySpan<int> idx = index.I();
        for (int i = 0; i < idx.Length; i++)
        {
            if (idx[i] < -1 || idx[i] >= m)
                throw new ArgumentOutOfRangeException(nameof(index), idx[i],
                    $"GatherRows: index[{i}] = {idx[i]} is outside the {m} source rows and is not -1");
        }
        ReadOnlySpan<float> from = src.F();
        Span<float> to = dst.F();
        for (int i = 0; i < idx.Length; i++)
        {
            var row = to.Slice(i * d, d);
            if (idx[i] == -1) row.Clear();
            else from.Slice(idx[i] * d, d).CopyTo(row);
        }
    }
}
