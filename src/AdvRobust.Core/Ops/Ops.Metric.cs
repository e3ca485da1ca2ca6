using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

public static partial class Ops
{
    public static Tensor PairwiseDistance(DistanceKind kind, Tensor a, Tensor b)
    {
        var dist = Tensor.Empty(a.Backend, DType.Float32, a.Rank == 2 ? a.Shape[0] : 0, b.Rank == 2 ? b.Shape[0] : 0);
        try { PairwiseDistance(kind, a, b, dist); }
        catch { dist.Dispose(); throw; }
        return dist;
    }

    public static void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist)
    {
        const string op = nameof(PairwiseDistance);
        var backend = CheckPair(op, a, b);
        RequireShape(op, dist, new Shape(a.Shape[0], b.Shape[0]));
        backend.PairwiseDistance(kind, a, b, dist);
    }

    public static void PairwiseDistanceBackward(DistanceKind kind, Tensor a, Tensor b, Tensor gradDist,
        Tensor gradA, Tensor gradB)
    {
        const string op = nameof(PairwiseDistanceBackward);
        var backend = CheckPair(op, a, b);
        SameBackend(op, a, gradDist, gradA, gradB);
        RequireShape(op, gradDist, new Shape(a.Shape[0], b.Shape[0]));
        RequireSameShape(op, a, gradA);
        RequireSameShape(op, b, gradB);
        backend.PairwiseDistanceBackward(kind, a, b, gradDist, gradA, gradB);
    }

    /// <summary>Fused distance + mining over a pool; see <see cref="MiningKind"/>. Never stores the N×M matrix.</summary>
    public static MinedTriplets MineTriplets(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool,
        Tensor poolLabels)
    {
        const string op = nameof(MineTriplets);
        var backend = CheckPair(op, anchors, pool);
        SameBackend(op, anchors, anchorLabels, poolLabels);
        Require(anchorLabels.DType == DType.Int32 && poolLabels.DType == DType.Int32, op, "labels must be Int32");
        RequireShape(op, anchorLabels, new Shape(anchors.Shape[0]));
        RequireShape(op, poolLabels, new Shape(pool.Shape[0]));
        Require(p.Distance != DistanceKind.Cosine, op,
            "mining needs a distance (smaller = closer); cosine is a similarity, use Angular");
        Require(!p.ExcludeSelf || anchors.Shape[0] == pool.Shape[0], op,
            $"ExcludeSelf needs anchors and pool to be the same rows, got N={anchors.Shape[0]} and M={pool.Shape[0]}");
        var result = new MinedTriplets(backend, anchors.Shape[0]);
        try { backend.MineTriplets(p, anchors, anchorLabels, pool, poolLabels, result); }
        catch { result.Dispose(); throw; }
        return result;
    }

    /// <summary>Per-row triplet margin loss for row-aligned anchors, positives and negatives (N×D each).</summary>
    public static void TripletLoss(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor loss)
    {
        const string op = nameof(TripletLoss);
        var backend = CheckTriplet(op, kind, a, p, n);
        SameBackend(op, a, loss);
        RequireShape(op, loss, new Shape(a.Shape[0]));
        backend.TripletLoss(kind, margin, a, p, n, loss);
    }

    public static void TripletLossBackward(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n,
        Tensor gradLoss, Tensor gradA, Tensor gradP, Tensor gradN)
    {
        const string op = nameof(TripletLossBackward);
        var backend = CheckTriplet(op, kind, a, p, n);
        SameBackend(op, a, gradLoss, gradA, gradP, gradN);
        RequireShape(op, gradLoss, new Shape(a.Shape[0]));
        RequireSameShape(op, a, gradA);
        RequireSameShape(op, a, gradP);
        RequireSameShape(op, a, gradN);
        backend.TripletLossBackward(kind, margin, a, p, n, gradLoss, gradA, gradP, gradN);
    }

    /// <summary>dst[i,:] = src[index[i],:]; index -1 gives a zero row; any other index outside [0, M) is an error.</summary>
    public static void GatherRows(Tensor src, Tensor index, Tensor dst)
    {
        const string op = nameof(GatherRows);
        var backend = SameBackend(op, src, index, dst);
        RequireF32(op, src);
        RequireRank(op, src, 2);
        Require(index.DType == DType.Int32 && index.Rank == 1, op, $"index must be a 1-D Int32 tensor, got {index.DType}{index.Shape}");
        RequireShape(op, dst, new Shape(index.Shape[0], src.Shape[1]));
        backend.GatherRows(src, index, dst);
    }

    private static IBackend CheckPair(string op, Tensor a, Tensor b)
    {
        var backend = SameBackend(op, a, b);
        RequireF32(op, a);
        RequireF32(op, b);
        RequireRank(op, a, 2);
        RequireRank(op, b, 2);
        Require(a.Shape[1] == b.Shape[1], op, $"feature dimensions differ: A {a.Shape}, B {b.Shape}");
        return backend;
    }

    private static IBackend CheckTriplet(string op, DistanceKind kind, Tensor a, Tensor p, Tensor n)
    {
        var backend = SameBackend(op, a, p, n);
        RequireF32(op, a);
        RequireRank(op, a, 2);
        RequireSameShape(op, a, p);
        RequireSameShape(op, a, n);
        Require(kind != DistanceKind.Cosine, op, "the triplet loss needs a distance; cosine is a similarity, use Angular");
        return backend;
    }
}
