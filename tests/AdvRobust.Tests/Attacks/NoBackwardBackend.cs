using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;

namespace AdvRobust.Tests.Attacks;

/// <summary>
/// The CPU backend behind a wrapper that counts forward calls and throws on every backward op, so a test can prove an
/// attack never computes a gradient. Tensors allocated here carry this wrapper as their backend (their storage is an
/// ordinary CpuStorage), so every op on them comes through it.
/// </summary>
public sealed class NoBackwardBackend : IBackend
{
    private readonly CpuBackend _cpu = CpuBackend.Instance;

    public int ForwardCalls { get; private set; }
    public string Name => "cpu-no-backward";
    public string DeviceName => _cpu.DeviceName;

    private static InvalidOperationException Forbidden(string op) =>
        new($"{op} was called: this backend forbids backward ops");

    private void Count() => ForwardCalls++;

    private readonly CpuMemoryPool _pool = new();

    public Storage Allocate(DType dtype, long length) => new CpuStorage(this, _pool, dtype, length);
    public void CopyIn<T>(Storage dst, ReadOnlySpan<T> src) where T : unmanaged => _cpu.CopyIn(dst, src);
    /// <summary>Device→host copies so far (CopyOut calls).</summary>
    public int CopyOuts { get; private set; }
    public void CopyOut<T>(Storage src, Span<T> dst) where T : unmanaged
    {
        CopyOuts++;
        _cpu.CopyOut(src, dst);
    }
    public void Copy(Tensor src, Tensor dst) => _cpu.Copy(src, dst);
    public void CopyRange(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count) =>
        _cpu.CopyRange(src, srcOffset, dst, dstOffset, count);
    public void Synchronize() => _cpu.Synchronize();
    public void Fill(Tensor y, float value) => _cpu.Fill(y, value);
    public void Unary(UnaryOp op, Tensor x, Tensor y) => _cpu.Unary(op, x, y);
    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) => throw Forbidden(nameof(UnaryBackward));
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y) => _cpu.Binary(op, a, b, y);
    public void Axpby(float alpha, Tensor x, float beta, Tensor y) => _cpu.Axpby(alpha, x, beta, y);
    public void Clamp(Tensor x, float lo, float hi, Tensor y) => _cpu.Clamp(x, lo, hi, y);
    public void ReduceRows(ReduceOp op, Tensor x, Tensor y) => _cpu.ReduceRows(op, x, y);

    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta)
    {
        Count();
        _cpu.Gemm(a, transA, b, transB, c, alpha, beta);
    }

    public void PgdStep(PgdNorm norm, Tensor x, Tensor x0, Tensor grad, PgdParams p) =>
        throw Forbidden(nameof(PgdStep));
    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, ulong seed, uint stream,
        uint firstSample) => _cpu.PgdRandomStart(norm, x, x0, p, seed, stream, firstSample);
    public void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist) =>
        _cpu.PairwiseDistance(kind, a, b, dist);
    public void PairwiseDistanceBackward(DistanceKind kind, Tensor a, Tensor b, Tensor gradDist, Tensor gradA,
        Tensor gradB) => throw Forbidden(nameof(PairwiseDistanceBackward));
    public void MineTriplets(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool, Tensor poolLabels,
        MinedTriplets result) => _cpu.MineTriplets(p, anchors, anchorLabels, pool, poolLabels, result);
    public void TripletLoss(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor loss) =>
        _cpu.TripletLoss(kind, margin, a, p, n, loss);
    public void TripletLossBackward(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor gradLoss,
        Tensor gradA, Tensor gradP, Tensor gradN) => throw Forbidden(nameof(TripletLossBackward));
    public void GatherRows(Tensor src, Tensor index, Tensor dst) => _cpu.GatherRows(src, index, dst);
    public void AttackTrack(AttackTrackParams p, Tensor logits, Tensor loss, Tensor labels, Tensor? targets, Tensor x,
        BestState best) => _cpu.AttackTrack(p, logits, loss, labels, targets, x, best);
    public void ApgdStep(PgdNorm norm, float eps, float momentum, Tensor x, Tensor x0, Tensor grad, ApgdState s) =>
        throw Forbidden(nameof(ApgdStep));
    public void ApgdSchedule(ApgdScheduleParams p, Tensor loss, Tensor x, Tensor grad, ApgdState s) =>
        throw Forbidden(nameof(ApgdSchedule));
    public void FabStep(FabParams p, Tensor x, Tensor x0, Tensor grad, Tensor logits, Tensor labels, Tensor targets) =>
        _cpu.FabStep(p, x, x0, grad, logits, labels, targets);
    public void FabAccept(FabParams p, Tensor x, Tensor x0, Tensor logits, Tensor labels, Tensor best,
        Tensor bestNorm) => _cpu.FabAccept(p, x, x0, logits, labels, best, bestNorm);
    public void SquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin, Tensor sampleIds,
        Tensor? query, Tensor candidates) =>
        _cpu.SquareCandidates(p, x0, best, marginMin, sampleIds, query, candidates);
    public void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin,
        Tensor lossMin, Tensor? query) =>
        _cpu.SquareAccept(logits, labels, candidates, best, marginMin, lossMin, query);
    public void ScatterAddRows(Tensor src, Tensor index, Tensor dst) => _cpu.ScatterAddRows(src, index, dst);

    public void Conv2dForward(ConvParams p, Tensor x, Tensor w, Tensor y)
    {
        Count();
        _cpu.Conv2dForward(p, x, w, y);
    }

    public void Conv2dBiasReluForward(ConvParams p, Tensor x, Tensor w, Tensor bias, Tensor y)
    {
        Count();
        _cpu.Conv2dBiasReluForward(p, x, w, bias, y);
    }

    public void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx) =>
        throw Forbidden(nameof(Conv2dBackwardData));
    public void Conv2dBackwardFilter(ConvParams p, Tensor x, Tensor dy, Tensor dw) =>
        throw Forbidden(nameof(Conv2dBackwardFilter));
    public void Pool2dForward(PoolParams p, Tensor x, Tensor y) => _cpu.Pool2dForward(p, x, y);
    public void Pool2dBackward(PoolParams p, Tensor x, Tensor y, Tensor dy, Tensor dx) =>
        throw Forbidden(nameof(Pool2dBackward));
    public void BatchNormForward(BatchNormParams p, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, Tensor y, Tensor savedMean, Tensor savedInvStd) =>
        _cpu.BatchNormForward(p, x, gamma, beta, runningMean, runningVar, y, savedMean, savedInvStd);
    public void BatchNormBackward(BatchNormParams p, Tensor x, Tensor dy, Tensor gamma, Tensor savedMean,
        Tensor savedInvStd, Tensor dx, Tensor dgamma, Tensor dbeta) => throw Forbidden(nameof(BatchNormBackward));
    public void ChannelAffine(Tensor x, Tensor? scale, Tensor? shift, Tensor y) =>
        _cpu.ChannelAffine(x, scale, shift, y);
    public void ChannelFill(Tensor value, Tensor y) => throw Forbidden(nameof(ChannelFill) + " (only gradients use it)");
    public void ChannelSum(Tensor x, Tensor y) => throw Forbidden(nameof(ChannelSum) + " (only gradients use it)");
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, float labelSmoothing, Tensor loss, Tensor probs) =>
        _cpu.SoftmaxCrossEntropy(logits, labels, labelSmoothing, loss, probs);
    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, float labelSmoothing, Tensor gradLoss,
        Tensor gradLogits) => throw Forbidden(nameof(SoftmaxCrossEntropyBackward));
    public void LogSoftmax(Tensor x, Tensor y) => _cpu.LogSoftmax(x, y);
    public void LogSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) => throw Forbidden(nameof(LogSoftmaxBackward));
    public void MarginLoss(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor loss) =>
        _cpu.MarginLoss(kind, logits, labels, targets, loss);
    public void MarginLossBackward(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor gradLoss,
        Tensor gradLogits) => throw Forbidden(nameof(MarginLossBackward));
    public void SgdStep(SgdParams p, Tensor param, Tensor grad, Tensor momentum) => throw Forbidden(nameof(SgdStep));
    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, ulong seed, uint stream, uint firstSample) =>
        _cpu.RandomCropFlip(x, y, pad, flip, seed, stream, firstSample);

    public void GaussianNoise(Tensor x, Tensor y, float sigma, ulong seed, uint stream, uint firstSample,
        Tensor? sampleIds) =>
        _cpu.GaussianNoise(x, y, sigma, seed, stream, firstSample, sampleIds);

    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, Tensor key, Tensor sampleIds) =>
        _cpu.PgdRandomStart(norm, x, x0, p, key, sampleIds);
    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, Tensor key) =>
        _cpu.RandomCropFlip(x, y, pad, flip, key);
    public void GaussianNoise(Tensor x, Tensor y, float sigma, Tensor key, Tensor? sampleIds) =>
        _cpu.GaussianNoise(x, y, sigma, key, sampleIds);
    public void SgdStep(SgdParams p, Tensor lr, Tensor param, Tensor grad, Tensor momentum) =>
        throw Forbidden(nameof(SgdStep));

    public void Dispose()
    {
    }
}
