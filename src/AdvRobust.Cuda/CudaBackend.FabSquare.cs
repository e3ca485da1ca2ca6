using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

public sealed partial class CudaBackend
{
    public void FabStep(FabParams p, Tensor x, Tensor x0, Tensor grad, Tensor logits, Tensor labels, Tensor targets) =>
        Kernels.FabStep(P(x), P(x0), P(grad), P(logits), P(labels), P(targets), x.Shape[0], PerSample(x),
            logits.Shape[1], p.Norm == PgdNorm.L2, p.AlphaMax, p.Eta);

    public void FabAccept(FabParams p, Tensor x, Tensor x0, Tensor logits, Tensor labels, Tensor best,
        Tensor bestNorm) =>
        Kernels.FabAccept(P(x), P(x0), P(logits), P(labels), P(best), P(bestNorm), x.Shape[0], PerSample(x),
            logits.Shape[1], p.Norm == PgdNorm.L2, p.Beta);

    public void SquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin, Tensor sampleIds,
        Tensor? query, Tensor candidates) =>
        Kernels.SquareCandidates(p.Norm == PgdNorm.L2, P(x0), P(best), P(marginMin), P(sampleIds), P(candidates),
            x0.Shape[0], x0.Shape[1], x0.Shape[2], x0.Shape[3], p.Side, p.Eps, p.Seed, p.Stream, p.Query,
            query is null ? 0 : P(query), p.Schedule ?? default);

    public void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin,
        Tensor lossMin, Tensor? query) =>
        Kernels.SquareAccept(P(logits), P(labels), P(candidates), P(best), P(marginMin), P(lossMin),
            query is null ? 0 : P(query), best.Shape[0], logits.Shape[1], PerSample(best));
}
