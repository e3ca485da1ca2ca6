using System.Runtime.CompilerServices;
using AdvRobust.Core;
using AdvRobust.Core.Diagnostics;
using AdvRobust.Core.Graphs;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu.Diagnostics;

/// <summary>
/// A decorator that forwards every <see cref="IBackend"/> call to an inner backend (CPU or CUDA) and counts it: each
/// compute op is one launch, counted under its member name; Synchronize; CopyOut (device→host) and CopyIn
/// (host→device) calls and bytes; Copy (device→device) calls and bytes; Allocate calls and bytes. Tensors allocated
/// here carry this wrapper as their backend (their storage is the inner backend's own kind, see
/// <see cref="IDecoratableBackend"/>), so every op on a model built on it, its tapes and attacks comes through here.
/// Read the counts with <see cref="Snapshot"/> or <see cref="Read"/>, or measure one step with <see cref="Region"/>.
/// Counting happens before forwarding, so an op that throws is still counted. Counting is thread-safe (a loader
/// thread may upload while a step runs; a region then counts its uploads too).
/// A new IBackend member is one line here: an op is <c>=> Launch().Op(...);</c> (the member name is the
/// counter's name). Tests/Budgets/CountingBackendTests reflects over IBackend and fails for a member that is not
/// counted. It lives beside the CPU reference to keep Core (the engine's contract) small, and wraps any
/// <see cref="IDecoratableBackend"/>, CudaBackend included. A test wrapper that needs more than counts (e.g. the
/// storages it allocated) derives from it and overrides <see cref="Allocate"/>.
/// </summary>
public class CountingBackend : IBackend, IMemoryInfo, IStepCounter
{
    private readonly IBackend _inner;
    private readonly IDecoratableBackend _allocator;
    private readonly Dictionary<string, long> _launches = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _syncs, _d2hCopies, _d2hBytes, _h2dCopies, _h2dBytes, _d2dCopies, _d2dBytes, _allocations, _allocBytes;

    /// <param name="inner">The backend that does the work; it must implement <see cref="IDecoratableBackend"/>
    /// (CpuBackend and CudaBackend do). It is not disposed with this wrapper.</param>
    public CountingBackend(IBackend inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _allocator = inner as IDecoratableBackend ?? throw new ArgumentException(
            $"{inner.GetType().Name} cannot be counted: it does not implement {nameof(IDecoratableBackend)}",
            nameof(inner));
    }

    public IBackend Inner => _inner;

    /// <summary>The inner backend's name ("cpu", "cuda"): code that asks behaves as without the wrapper.</summary>
    public string Name => _inner.Name;
    public string DeviceName => _inner.DeviceName;

    /// <summary>The inner backend's graphs: a step replayed from a graph makes no IBackend calls, so the wrapper
    /// counts what the capture ran and nothing on replay (the emulator counts the replayed work).</summary>
    public IGraphCapture? GraphCapture => _inner.GraphCapture;

    public long AvailableBytes =>
        _inner is IMemoryInfo info ? info.AvailableBytes : BatchMemory.CpuAvailable();

    public BackendCounts Snapshot()
    {
        lock (_gate)
            return new(new Dictionary<string, long>(_launches, StringComparer.Ordinal), _syncs, _d2hCopies, _d2hBytes,
                _h2dCopies, _h2dBytes, _d2dCopies, _d2dBytes, _allocations, _allocBytes);
    }

    public StepCounts Read() => Snapshot().Steps;

    /// <summary>Zeroes every counter.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _launches.Clear();
            _syncs = _d2hCopies = _d2hBytes = _h2dCopies = _h2dBytes = 0;
            _d2dCopies = _d2dBytes = _allocations = _allocBytes = 0;
        }
    }

    /// <summary>Counts from now until the region is disposed:
    /// <c>using (var r = counting.Region()) Step(); ... r.Counts</c>.</summary>
    public CountingRegion Region() => new(this);

    /// <summary>Counts one launch of the calling op and returns the backend that runs it.</summary>
    private IBackend Launch([CallerMemberName] string op = "")
    {
        lock (_gate) _launches[op] = _launches.GetValueOrDefault(op) + 1;
        return _inner;
    }

    // ---- memory ----
    public virtual Storage Allocate(DType dtype, long length)
    {
        lock (_gate)
        {
            _allocations++;
            _allocBytes += length * dtype.SizeInBytes();
        }
        return _allocator.AllocateFor(this, dtype, length);
    }

    public void CopyIn<T>(Storage dst, ReadOnlySpan<T> src) where T : unmanaged
    {
        lock (_gate)
        {
            _h2dCopies++;
            _h2dBytes += (long)src.Length * Unsafe.SizeOf<T>();
        }
        _inner.CopyIn(dst, src);
    }

    public void CopyOut<T>(Storage src, Span<T> dst) where T : unmanaged
    {
        lock (_gate)
        {
            _d2hCopies++;
            _d2hBytes += (long)dst.Length * Unsafe.SizeOf<T>();
        }
        _inner.CopyOut(src, dst);
    }

    public void Copy(Tensor src, Tensor dst)
    {
        lock (_gate)
        {
            _d2dCopies++;
            _d2dBytes += src.Storage.Bytes;
        }
        _inner.Copy(src, dst);
    }

    public void CopyRange(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count)
    {
        lock (_gate)
        {
            _d2dCopies++;
            _d2dBytes += count * src.DType.SizeInBytes();
        }
        _inner.CopyRange(src, srcOffset, dst, dstOffset, count);
    }

    public void Synchronize()
    {
        lock (_gate) _syncs++;
        _inner.Synchronize();
    }

    // ---- compute ops: one launch each ----
    public void Fill(Tensor y, float value) => Launch().Fill(y, value);
    public void Unary(UnaryOp op, Tensor x, Tensor y) => Launch().Unary(op, x, y);
    public void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx) => Launch().UnaryBackward(op, x, dy, dx);
    public void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y) => Launch().Binary(op, a, b, y);
    public void Axpby(float alpha, Tensor x, float beta, Tensor y) => Launch().Axpby(alpha, x, beta, y);
    public void Clamp(Tensor x, float lo, float hi, Tensor y) => Launch().Clamp(x, lo, hi, y);
    public void ReduceRows(ReduceOp op, Tensor x, Tensor y) => Launch().ReduceRows(op, x, y);

    public void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta) =>
        Launch().Gemm(a, transA, b, transB, c, alpha, beta);

    public void PgdStep(PgdNorm norm, Tensor x, Tensor x0, Tensor grad, PgdParams p) =>
        Launch().PgdStep(norm, x, x0, grad, p);

    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, ulong seed, uint stream,
        uint firstSample) =>
        Launch().PgdRandomStart(norm, x, x0, p, seed, stream, firstSample);

    public void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist) =>
        Launch().PairwiseDistance(kind, a, b, dist);

    public void PairwiseDistanceBackward(DistanceKind kind, Tensor a, Tensor b, Tensor gradDist, Tensor gradA,
        Tensor gradB) =>
        Launch().PairwiseDistanceBackward(kind, a, b, gradDist, gradA, gradB);

    public void MineTriplets(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool, Tensor poolLabels,
        MinedTriplets result) =>
        Launch().MineTriplets(p, anchors, anchorLabels, pool, poolLabels, result);

    public void TripletLoss(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor loss) =>
        Launch().TripletLoss(kind, margin, a, p, n, loss);

    public void TripletLossBackward(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor gradLoss,
        Tensor gradA, Tensor gradP, Tensor gradN) =>
        Launch().TripletLossBackward(kind, margin, a, p, n, gradLoss, gradA, gradP, gradN);

    public void GatherRows(Tensor src, Tensor index, Tensor dst) => Launch().GatherRows(src, index, dst);
    public void AttackTrack(AttackTrackParams p, Tensor logits, Tensor loss, Tensor labels, Tensor? targets, Tensor x,
        BestState best) => Launch().AttackTrack(p, logits, loss, labels, targets, x, best);
    public void ApgdStep(PgdNorm norm, float eps, float momentum, Tensor x, Tensor x0, Tensor grad, ApgdState state) =>
        Launch().ApgdStep(norm, eps, momentum, x, x0, grad, state);
    public void ApgdSchedule(ApgdScheduleParams p, Tensor loss, Tensor x, Tensor grad, ApgdState state) =>
        Launch().ApgdSchedule(p, loss, x, grad, state);
    public void ScatterAddRows(Tensor src, Tensor index, Tensor dst) => Launch().ScatterAddRows(src, index, dst);
    public void FabStep(FabParams p, Tensor x, Tensor x0, Tensor grad, Tensor logits, Tensor labels, Tensor targets) =>
        Launch().FabStep(p, x, x0, grad, logits, labels, targets);
    public void FabAccept(FabParams p, Tensor x, Tensor x0, Tensor logits, Tensor labels, Tensor best,
        Tensor bestNorm) => Launch().FabAccept(p, x, x0, logits, labels, best, bestNorm);
    public void SquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin, Tensor sampleIds,
        Tensor? query, Tensor candidates) =>
        Launch().SquareCandidates(p, x0, best, marginMin, sampleIds, query, candidates);
    public void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin,
        Tensor lossMin, Tensor? query) =>
        Launch().SquareAccept(logits, labels, candidates, best, marginMin, lossMin, query);
    public void Conv2dForward(ConvParams p, Tensor x, Tensor w, Tensor y) => Launch().Conv2dForward(p, x, w, y);
    public void Conv2dBiasReluForward(ConvParams p, Tensor x, Tensor w, Tensor bias, Tensor y) =>
        Launch().Conv2dBiasReluForward(p, x, w, bias, y);

    public void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx) =>
        Launch().Conv2dBackwardData(p, dy, w, dx);

    public void Conv2dBackwardFilter(ConvParams p, Tensor x, Tensor dy, Tensor dw) =>
        Launch().Conv2dBackwardFilter(p, x, dy, dw);

    public void Pool2dForward(PoolParams p, Tensor x, Tensor y) => Launch().Pool2dForward(p, x, y);

    public void Pool2dBackward(PoolParams p, Tensor x, Tensor y, Tensor dy, Tensor dx) =>
        Launch().Pool2dBackward(p, x, y, dy, dx);

    public void BatchNormForward(BatchNormParams p, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, Tensor y, Tensor savedMean, Tensor savedInvStd) =>
        Launch().BatchNormForward(p, x, gamma, beta, runningMean, runningVar, y, savedMean, savedInvStd);

    public void BatchNormBackward(BatchNormParams p, Tensor x, Tensor dy, Tensor gamma, Tensor savedMean,
        Tensor savedInvStd, Tensor dx, Tensor dgamma, Tensor dbeta) =>
        Launch().BatchNormBackward(p, x, dy, gamma, savedMean, savedInvStd, dx, dgamma, dbeta);

    public void ChannelAffine(Tensor x, Tensor? scale, Tensor? shift, Tensor y) =>
        Launch().ChannelAffine(x, scale, shift, y);

    public void ChannelFill(Tensor value, Tensor y) => Launch().ChannelFill(value, y);
    public void ChannelSum(Tensor x, Tensor y) => Launch().ChannelSum(x, y);

    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, float labelSmoothing, Tensor loss, Tensor probs) =>
        Launch().SoftmaxCrossEntropy(logits, labels, labelSmoothing, loss, probs);

    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, float labelSmoothing, Tensor gradLoss,
        Tensor gradLogits) =>
        Launch().SoftmaxCrossEntropyBackward(probs, labels, labelSmoothing, gradLoss, gradLogits);

    public void LogSoftmax(Tensor x, Tensor y) => Launch().LogSoftmax(x, y);
    public void LogSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) => Launch().LogSoftmaxBackward(y, dy, dx);

    public void MarginLoss(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor loss) =>
        Launch().MarginLoss(kind, logits, labels, targets, loss);

    public void MarginLossBackward(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor gradLoss,
        Tensor gradLogits) =>
        Launch().MarginLossBackward(kind, logits, labels, targets, gradLoss, gradLogits);

    public void SgdStep(SgdParams p, Tensor param, Tensor grad, Tensor momentum) =>
        Launch().SgdStep(p, param, grad, momentum);

    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, ulong seed, uint stream, uint firstSample) =>
        Launch().RandomCropFlip(x, y, pad, flip, seed, stream, firstSample);

    public void GaussianNoise(Tensor x, Tensor y, float sigma, ulong seed, uint stream, uint firstSample,
        Tensor? sampleIds) =>
        Launch().GaussianNoise(x, y, sigma, seed, stream, firstSample, sampleIds);

    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, Tensor key, Tensor sampleIds) =>
        Launch().PgdRandomStart(norm, x, x0, p, key, sampleIds);

    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, Tensor key) =>
        Launch().RandomCropFlip(x, y, pad, flip, key);

    public void GaussianNoise(Tensor x, Tensor y, float sigma, Tensor key, Tensor? sampleIds) =>
        Launch().GaussianNoise(x, y, sigma, key, sampleIds);

    public void SgdStep(SgdParams p, Tensor lr, Tensor param, Tensor grad, Tensor momentum) =>
        Launch().SgdStep(p, lr, param, grad, momentum);

    /// <summary>Leaves the inner backend alone: it is shared (CpuBackend.Instance, the tests' CUDA backend).</summary>
    public void Dispose()
    {
    }
}

/// <summary>The counts of a <see cref="CountingBackend"/> from the region's start until it is disposed (or until now,
/// while it is open).</summary>
public sealed class CountingRegion : IDisposable
{
    private readonly CountingBackend _backend;
    private readonly BackendCounts _start;
    private BackendCounts? _end;

    internal CountingRegion(CountingBackend backend)
    {
        _backend = backend;
        _start = backend.Snapshot();
    }

    public BackendCounts Counts => (_end ?? _backend.Snapshot()) - _start;

    public void Dispose() => _end ??= _backend.Snapshot();
}
