using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;

namespace AdvRobust.Tests.Training.Objectives;

/// <summary>
/// The CPU backend behind a wrapper that remembers every storage it allocates (so a test can count the ones still
/// alive) and counts weight-gradient passes (convolution backward-filter). Tensors allocated here carry this wrapper
/// as their backend, so every op on them comes through it.
/// </summary>
public sealed class TrackingBackend : IBackend
{
    private readonly CpuBackend _cpu = CpuBackend.Instance;
    private readonly List<Storage> _allocated = [];

    public int LiveStorages => _allocated.Count(s => !s.IsDisposed);
    public int BackwardFilterCalls { get; private set; }

    /// <summary>Device→host copies (CopyOut), host→device copies (CopyIn) and synchronizations so far: a training
    /// step on a device-resident path makes no CopyOut and no Synchronize.</summary>
    public int CopyOutCalls { get; private set; }
    public int CopyInCalls { get; private set; }
    public int SynchronizeCalls { get; private set; }

    public string Name => "cpu-tracking";
    public string DeviceName => _cpu.DeviceName;

    private readonly CpuMemoryPool _pool = new();

    public Storage Allocate(DType dtype, long length)
    {
        var storage = new CpuStorage(this, _pool, dtype, length);
        _allocated.Add(storage);
        return storage;
    }

    public void CopyIn<T>(Storage dst, ReadOnlySpan<T> src) where T : unmanaged
    {
        CopyInCalls++;
        _cpu.CopyIn(dst, src);
    }

    public void CopyOut<T>(Storage src, Span<T> dst) where T : unmanaged
    {
        CopyOutCalls++;
        _cpu.CopyOut(src, dst);
    }

    public void Copy(Tensor src, Tensor dst) => _cpu.Copy(src, dst);

    public void Synchronize()
    {
        SynchronizeCalls++;
        _cpu.Synchronize();
    }

    /// <summary>Device→host copies so far (CopyOut calls; the FAB/Square tests' name).</summary>
    public int CopyOuts => CopyOutCalls;

    public void CopyRange(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count) =>
        _cpu.CopyRange(src, srcOffset, dst, dstOffset, count);

    public void Fill(Tensor y, float value) => _cpu.Fill(y, value);
    public void Unary(UnaryOp op, Tensor x, Tensor y) => _cpu.Unary(op, x, y);
    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) => _cpu.UnaryBackward(op, x, dy, dx);
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y) => _cpu.Binary(op, a, b, y);
    public void Axpby(float alpha, Tensor x, float beta, Tensor y) => _cpu.Axpby(alpha, x, beta, y);
    public void Clamp(Tensor x, float lo, float hi, Tensor y) => _cpu.Clamp(x, lo, hi, y);
    public void ReduceRows(ReduceOp op, Tensor x, Tensor y) => _cpu.ReduceRows(op, x, y);
    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta) =>
        _cpu.Gemm(a, transA, b, transB, c, alpha, beta);
    public void PgdStep(PgdNorm norm, Tensor x, Tensor x0, Tensor grad, PgdParams p) =>
        _cpu.PgdStep(norm, x, x0, grad, p);
    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, ulong seed, uint stream,
        uint firstSample) => _cpu.PgdRandomStart(norm, x, x0, p, seed, stream, firstSample);
    public void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist) =>
        _cpu.PairwiseDistance(kind, a, b, dist);
    public void PairwiseDistanceBackward(DistanceKind kind, Tensor a, Tensor b, Tensor gradDist, Tensor gradA,
        Tensor gradB) => _cpu.PairwiseDistanceBackward(kind, a, b, gradDist, gradA, gradB);
    public void MineTriplets(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool, Tensor poolLabels,
        MinedTriplets result) => _cpu.MineTriplets(p, anchors, anchorLabels, pool, poolLabels, result);
    public void TripletLoss(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor loss) =>
        _cpu.TripletLoss(kind, margin, a, p, n, loss);
    public void TripletLossBackward(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor gradLoss,
        Tensor gradA, Tensor gradP, Tensor gradN) =>
        _cpu.TripletLossBackward(kind, margin, a, p, n, gradLoss, gradA, gradP, gradN);
    public void GatherRows(Tensor src, Tensor index, Tensor dst) => _cpu.GatherRows(src, index, dst);
    public void AttackTrack(AttackTrackParams p, Tensor logits, Tensor loss, Tensor labels, Tensor? targets, Tensor x,
        BestState best) => _cpu.AttackTrack(p, logits, loss, labels, targets, x, best);
    public void ApgdStep(PgdNorm norm, float eps, float momentum, Tensor x, Tensor x0, Tensor grad, ApgdState s) =>
        _cpu.ApgdStep(norm, eps, momentum, x, x0, grad, s);
    public void ApgdSchedule(ApgdScheduleParams p, Tensor loss, Tensor x, Tensor grad, ApgdState s) =>
        _cpu.ApgdSchedule(p, loss, x, grad, s);
    public void FabStep(FabParams p, Tensor x, Tensor x0, Tensor grad, Tensor logits, Tensor labels, Tensor targets) =>
        _cpu.FabStep(p, x, x0, grad, logits, labels, targets);
    public void FabAccept(FabParams p, Tensor x, Tensor x0, Tensor logits, Tensor labels, Tensor best,
        Tensor bestNorm) => _cpu.FabAccept(p, x, x0, logits, labels, best, bestNorm);
    public void SquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin, Tensor sampleIds,
        Tensor candidates) => _cpu.SquareCandidates(p, x0, best, marginMin, sampleIds, candidates);
    public void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin,
        Tensor lossMin) => _cpu.SquareAccept(logits, labels, candidates, best, marginMin, lossMin);
    public void ScatterAddRows(Tensor src, Tensor index, Tensor dst) => _cpu.ScatterAddRows(src, index, dst);
    public void Conv2dForward(ConvParams p, Tensor x, Tensor w, Tensor y) => _cpu.Conv2dForward(p, x, w, y);
    public void Conv2dBiasReluForward(ConvParams p, Tensor x, Tensor w, Tensor bias, Tensor y) =>
        _cpu.Conv2dBiasReluForward(p, x, w, bias, y);
    public void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx) =>
        _cpu.Conv2dBackwardData(p, dy, w, dx);

    public void Conv2dBackwardFilter(ConvParams p, Tensor x, Tensor dy, Tensor dw)
    {
        BackwardFilterCalls++;
        _cpu.Conv2dBackwardFilter(p, x, dy, dw);
    }

    public void Pool2dForward(PoolParams p, Tensor x, Tensor y) => _cpu.Pool2dForward(p, x, y);
    public void Pool2dBackward(PoolParams p, Tensor x, Tensor y, Tensor dy, Tensor dx) =>
        _cpu.Pool2dBackward(p, x, y, dy, dx);
    public void BatchNormForward(BatchNormParams p, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, Tensor y, Tensor savedMean, Tensor savedInvStd) =>
        _cpu.BatchNormForward(p, x, gamma, beta, runningMean, runningVar, y, savedMean, savedInvStd);
    public void BatchNormBackward(BatchNormParams p, Tensor x, Tensor dy, Tensor gamma, Tensor savedMean,
        Tensor savedInvStd, Tensor dx, Tensor dgamma, Tensor dbeta) =>
        _cpu.BatchNormBackward(p, x, dy, gamma, savedMean, savedInvStd, dx, dgamma, dbeta);
    public void ChannelAffine(Tensor x, Tensor? scale, Tensor? shift, Tensor y) =>
        _cpu.ChannelAffine(x, scale, shift, y);
    public void ChannelFill(Tensor value, Tensor y) => _cpu.ChannelFill(value, y);
    public void ChannelSum(Tensor x, Tensor y) => _cpu.ChannelSum(x, y);
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, float labelSmoothing, Tensor loss, Tensor probs) =>
        _cpu.SoftmaxCrossEntropy(logits, labels, labelSmoothing, loss, probs);
    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, float labelSmoothing, Tensor gradLoss,
        Tensor gradLogits) => _cpu.SoftmaxCrossEntropyBackward(probs, labels, labelSmoothing, gradLoss, gradLogits);
    public void LogSoftmax(Tensor x, Tensor y) => _cpu.LogSoftmax(x, y);
    public void LogSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) => _cpu.LogSoftmaxBackward(y, dy, dx);
    public void MarginLoss(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor loss) =>
        _cpu.MarginLoss(kind, logits, labels, targets, loss);
    public void MarginLossBackward(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor gradLoss,
        Tensor gradLogits) => _cpu.MarginLossBackward(kind, logits, labels, targets, gradLoss, gradLogits);
    public void SgdStep(SgdParams p, Tensor param, Tensor grad, Tensor momentum) =>
        _cpu.SgdStep(p, param, grad, momentum);
    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, ulong seed, uint stream, uint firstSample) =>
        _cpu.RandomCropFlip(x, y, pad, flip, seed, stream, firstSample);
    public void GaussianNoise(Tensor x, Tensor y, float sigma, ulong seed, uint stream, uint firstSample,
        Tensor? sampleIds) => _cpu.GaussianNoise(x, y, sigma, seed, stream, firstSample, sampleIds);

    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, Tensor key, Tensor sampleIds) =>
        _cpu.PgdRandomStart(norm, x, x0, p, key, sampleIds);
    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, Tensor key) =>
        _cpu.RandomCropFlip(x, y, pad, flip, key);
    public void GaussianNoise(Tensor x, Tensor y, float sigma, Tensor key, Tensor? sampleIds) =>
        _cpu.GaussianNoise(x, y, sigma, key, sampleIds);
    public void SgdStep(SgdParams p, Tensor lr, Tensor param, Tensor grad, Tensor momentum) =>
        _cpu.SgdStep(p, lr, param, grad, momentum);

    public void Dispose()
    {
    }
}
