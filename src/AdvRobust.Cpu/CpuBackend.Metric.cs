using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// PLACEHOLDER — being written by a helper; replaced before commit.
public sealed partial class CpuBackend
{
    public void PgdStep(PgdNorm norm, Tensor x, Tensor x0, Tensor grad, PgdParams p) => throw new NotImplementedException();
    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, ulong seed, uint stream, uint firstSample) => throw new NotImplementedException();
    public void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist) => throw new NotImplementedException();
    public void PairwiseDistanceBackward(DistanceKind kind, Tensor a, Tensor b, Tensor gradDist, Tensor gradA, Tensor gradB) => throw new NotImplementedException();
    public void MineTriplets(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool, Tensor poolLabels, MinedTriplets result) => throw new NotImplementedException();
    public void TripletLoss(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor loss) => throw new NotImplementedException();
    public void TripletLossBackward(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor gradLoss, Tensor gradA, Tensor gradP, Tensor gradN) => throw new NotImplementedException();
    public void GatherRows(Tensor src, Tensor index, Tensor dst) => throw new NotImplementedException();
}
