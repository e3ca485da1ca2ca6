using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

// Shape letters: A N×D anchors (or left operand), B/P M×D pool (or right operand).
public sealed partial class CudaBackend
{
    /// <summary>cuBLAS A·Bᵀ into dist, squared row norms by reduce_rows, then the distance epilogue in place.</summary>
    public void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist)
    {
        int n = a.Shape[0], m = b.Shape[0], d = a.Shape[1];
        using var na2 = SquaredNorms(a);
        using var nb2 = SquaredNorms(b);
        GemmRowMajor(P(a), false, d, P(b), true, d, P(dist), n, m, d, 1f, 0f);
        Kernels.DistanceEpilogue(P(dist), na2.Pointer, nb2.Pointer, P(dist), n, m, (int)kind);
    }

    /// <summary>
    /// Recompute A·Bᵀ, turn (grad, dot) into the weight matrix W and the matrix P whose row and column sums scale the
    /// "self" term (distance_backward_weights_f32), then gradA = W·B and gradB = Wᵀ·A by cuBLAS, finished by
    /// distance_backward_finish_f32. Two N×M scratch matrices; the pairwise gradient is N×M already.
    /// </summary>
    public void PairwiseDistanceBackward(DistanceKind kind, Tensor a, Tensor b, Tensor gradDist, Tensor gradA,
        Tensor gradB)
    {
        int n = a.Shape[0], m = b.Shape[0], d = a.Shape[1];
        using var na2 = SquaredNorms(a);
        using var nb2 = SquaredNorms(b);
        using var w = Scratch((long)n * m);
        using var pm = Scratch((long)n * m);
        using var rowSums = Scratch(n);
        using var colSums = Scratch(m);
        using var ones = Scratch(n);
        GemmRowMajor(P(a), false, d, P(b), true, d, w.Pointer, n, m, d, 1f, 0f);
        Kernels.DistanceBackwardWeights(P(gradDist), w.Pointer, pm.Pointer, na2.Pointer, nb2.Pointer, n, m, (int)kind);
        Kernels.ReduceRows(pm.Pointer, rowSums.Pointer, n, m, (int)ReduceOp.Sum);
        Kernels.Fill(ones.Pointer, 1f, n);
        GemmRowMajor(pm.Pointer, true, m, ones.Pointer, false, 1, colSums.Pointer, m, 1, n, 1f, 0f);
        GemmRowMajor(w.Pointer, false, m, P(b), false, d, P(gradA), n, d, m, 1f, 0f);
        Kernels.DistanceBackwardFinish(P(gradA), P(a), rowSums.Pointer, na2.Pointer, n, d, (int)kind);
        GemmRowMajor(w.Pointer, true, m, P(a), false, d, P(gradB), m, d, n, 1f, 0f);
        Kernels.DistanceBackwardFinish(P(gradB), P(b), colSums.Pointer, nb2.Pointer, m, d, (int)kind);
    }

    /// <summary>Fused distance + mining (triplet_mine_f32); semi-hard runs a second pass that reads the positives' distances.</summary>
    public void MineTriplets(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool, Tensor poolLabels,
        MinedTriplets result)
    {
        int n = anchors.Shape[0], m = pool.Shape[0], d = anchors.Shape[1];
        using var na2 = SquaredNorms(anchors);
        using var np2 = SquaredNorms(pool);
        void Mine(int mode) => Kernels.TripletMine(P(anchors), P(anchorLabels), P(pool), P(poolLabels), na2.Pointer,
            np2.Pointer, n, m, d, (int)p.Distance, mode, p.ExcludeSelf ? 1 : 0, P(result.PositiveIndex),
            P(result.PositiveDistance), P(result.NegativeIndex), P(result.NegativeDistance));
        Mine(0);
        if (p.Kind == MiningKind.SemiHard) Mine(1);
    }

    public void TripletLoss(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor loss) =>
        Kernels.TripletLossForward(P(a), P(p), P(n), P(loss), a.Shape[0], a.Shape[1], (int)kind, margin);

    public void TripletLossBackward(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor gradLoss,
        Tensor gradA, Tensor gradP, Tensor gradN) =>
        Kernels.TripletLossBackward(P(a), P(p), P(n), P(gradLoss), P(gradA), P(gradP), P(gradN), a.Shape[0],
            a.Shape[1], (int)kind, margin);

    private DeviceMemoryHandle SquaredNorms(Tensor x)
    {
        var norms = Scratch(x.Shape[0]);
        if (x.Shape[1] == 0) Kernels.Fill(norms.Pointer, 0f, x.Shape[0]);
        else Kernels.ReduceRows(P(x), norms.Pointer, x.Shape[0], x.Shape[1], (int)ReduceOp.SumSquares);
        return norms;
    }
}
