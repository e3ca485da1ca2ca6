using AdvRobust.Core.Graphs;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

/// <summary>
/// The one-screen contract every backend implements: memory plus the primitive ops, grouped as elementwise,
/// reduce, matmul, attack steps and metric learning. Backends assume validated arguments: call ops through
/// <see cref="Ops"/>, which checks shapes, dtypes and devices and names what is wrong.
/// Shape letters: N anchors/batch rows, M pool rows, D features, K inner dimension of a GEMM.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>"cpu" or "cuda".</summary>
    string Name { get; }

    /// <summary>Human-readable device, e.g. "NVIDIA H100 80GB HBM3 (sm_90)" or "CPU (2 cores, AVX2)".</summary>
    string DeviceName { get; }

    // ---- memory ----
    Storage Allocate(DType dtype, long length);
    void CopyIn<T>(Storage dst, ReadOnlySpan<T> src) where T : unmanaged;
    void CopyOut<T>(Storage src, Span<T> dst) where T : unmanaged;
    void Copy(Tensor src, Tensor dst);
    /// <summary>dst[dstOffset .. +count) = src[srcOffset .. +count), in elements, on the device (row ranges).</summary>
    void CopyRange(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count);
    void Synchronize();

    /// <summary>Records and replays steps as graphs (<see cref="StepGraph"/>); null when the backend has none.</summary>
    IGraphCapture? GraphCapture => null;

    // ---- elementwise (same shapes) ----
    void Fill(Tensor y, float value);
    void Unary(UnaryOp op, Tensor x, Tensor y);
    /// <summary>dx = dy * op'(x).</summary>
    void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx);
    void Binary(BinaryOp op, Tensor a, Tensor b, Tensor y);
    /// <summary>y = alpha * x + beta * y (y is always read: beta = 0 keeps a NaN in y, as the kernel does).</summary>
    void Axpby(float alpha, Tensor x, float beta, Tensor y);
    void Clamp(Tensor x, float lo, float hi, Tensor y);

    // ---- reduce over the last axis: x rows×cols → y rows ----
    void ReduceRows(ReduceOp op, Tensor x, Tensor y);

    // ---- matmul: C = alpha * op(A) * op(B) + beta * C, row-major ----
    void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta);

    // ---- attack steps (kernels/pgd.cu) ----
    /// <summary>One PGD ascent step plus projection onto the eps-ball around x0 and the box [lo, hi], in place on x.</summary>
    void PgdStep(PgdNorm norm, Tensor x, Tensor x0, Tensor grad, PgdParams p);
    /// <summary>x = clip(x0 + uniform sample of the eps-ball, lo, hi); row s of x is global sample firstSample + s.</summary>
    void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, ulong seed, uint stream, uint firstSample);

    // ---- attack bookkeeping (kernels/attack.cu): per-sample state of an attack run, kept on the device ----
    /// <summary>Per sample s: loss_s = Σ_j loss[s, j] (N×M terms, left to right in float), pred = argmax logits[s]
    /// (lowest index on ties), success = targets is null ? pred ≠ labels[s] : pred = targets[s]; then the Best rule
    /// of <paramref name="p"/> updates <paramref name="best"/> and copies x[s] into best.X[s] when the candidate is
    /// taken; a sample still unsuccessful afterwards sets best.Pending to 1.</summary>
    void AttackTrack(AttackTrackParams p, Tensor logits, Tensor loss, Tensor labels, Tensor? targets, Tensor x,
        BestState best);
    /// <summary>One APGD momentum step with per-sample η, projected onto the eps-ball around x0 and [0, 1].</summary>
    void ApgdStep(PgdNorm norm, float eps, float momentum, Tensor x, Tensor x0, Tensor grad, ApgdState s);
    /// <summary>APGD's per-iterate bookkeeping (best point, oscillation count) and, at a checkpoint, step halving.</summary>
    void ApgdSchedule(ApgdScheduleParams p, Tensor loss, Tensor x, Tensor grad, ApgdState s);

    // ---- FAB and Square (kernels/fab.cu, kernels/square.cu): per-sample bookkeeping without the host ----
    /// <summary>One FAB-T step in place on x: both projections onto the linearised boundary ∩ box, then the move.</summary>
    void FabStep(FabParams p, Tensor x, Tensor x0, Tensor grad, Tensor logits, Tensor labels, Tensor targets);
    /// <summary>Keeps the smallest misclassified iterate per row, then steps x back toward x0 by β.</summary>
    void FabAccept(FabParams p, Tensor x, Tensor x0, Tensor logits, Tensor labels, Tensor best, Tensor bestNorm);
    /// <summary>Square query: best with one Philox-drawn window changed, per row still being attacked; the query index
    /// and side from p, or (query not null) the index from that device counter and the side from p.Schedule.</summary>
    void SquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin, Tensor sampleIds, Tensor? query,
        Tensor candidates);
    /// <summary>Square acceptance of each attacked row's candidate by its margin; then query (if any) += 1.</summary>
    void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin, Tensor lossMin,
        Tensor? query);

    // ---- metric learning (kernels/distance.cu, kernels/triplet.cu) ----
    /// <summary>dist[i,j] = d(a_i, b_j) for A N×D, B M×D.</summary>
    void PairwiseDistance(DistanceKind kind, Tensor a, Tensor b, Tensor dist);
    void PairwiseDistanceBackward(DistanceKind kind, Tensor a, Tensor b, Tensor gradDist, Tensor gradA, Tensor gradB);
    /// <summary>Fused distance + mining: the N×M matrix is never stored.</summary>
    void MineTriplets(MiningParams p, Tensor anchors, Tensor anchorLabels, Tensor pool, Tensor poolLabels,
        MinedTriplets result);
    /// <summary>loss[i] = max(0, d(a_i,p_i) - d(a_i,n_i) + margin), for row-aligned A, P, Q (N×D).</summary>
    void TripletLoss(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor loss);
    void TripletLossBackward(DistanceKind kind, float margin, Tensor a, Tensor p, Tensor n, Tensor gradLoss,
        Tensor gradA, Tensor gradP, Tensor gradN);
    /// <summary>dst[i,:] = src[index[i],:]; an index of -1 writes a zero row.</summary>
    void GatherRows(Tensor src, Tensor index, Tensor dst);

    // ---- gather (kernels/gather.cu): the backward of GatherRows, and row copies at an offset ----
    /// <summary>dst[index[i],:] += src[i,:] for i = 0..N-1 in that order (index -1 skips row i); deterministic.</summary>
    void ScatterAddRows(Tensor src, Tensor index, Tensor dst);

    // ---- convolution, pooling, normalization (NCHW; x N×C×H×W, w K×C×R×S) ----
    void Conv2dForward(ConvParams p, Tensor x, Tensor w, Tensor y);
    /// <summary>y = relu(conv(x, w) + bias[k]) in one pass where the library fuses it (cuDNN); the CPU runs the three
    /// steps in the unfused order.</summary>
    void Conv2dBiasReluForward(ConvParams p, Tensor x, Tensor w, Tensor bias, Tensor y);
    void Conv2dBackwardData(ConvParams p, Tensor dy, Tensor w, Tensor dx);
    void Conv2dBackwardFilter(ConvParams p, Tensor x, Tensor dy, Tensor dw);
    void Pool2dForward(PoolParams p, Tensor x, Tensor y);
    void Pool2dBackward(PoolParams p, Tensor x, Tensor y, Tensor dy, Tensor dx);
    /// <summary>Training-mode batch norm: batch statistics, saved mean and 1/std, running statistics updated.</summary>
    void BatchNormForward(BatchNormParams p, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, Tensor y, Tensor savedMean, Tensor savedInvStd);
    void BatchNormBackward(BatchNormParams p, Tensor x, Tensor dy, Tensor gamma, Tensor savedMean, Tensor savedInvStd,
        Tensor dx, Tensor dgamma, Tensor dbeta);
    /// <summary>y = x·scale[c] + shift[c] over channel axis 1 (null scale = 1, null shift = 0): bias, eval BN, normalization.</summary>
    void ChannelAffine(Tensor x, Tensor? scale, Tensor? shift, Tensor y);
    /// <summary>y[c] = sum of x over every axis but axis 1 (bias and affine gradients).</summary>
    void ChannelSum(Tensor x, Tensor y);
    /// <summary>y[n, c, ...] = value[c]: broadcasts one value per channel (the backward of a sum).</summary>
    void ChannelFill(Tensor value, Tensor y);

    // ---- losses over logits N×K with Int32 labels N ----
    void SoftmaxCrossEntropy(Tensor logits, Tensor labels, float labelSmoothing, Tensor loss, Tensor probs);
    void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, float labelSmoothing, Tensor gradLoss, Tensor gradLogits);
    void LogSoftmax(Tensor x, Tensor y);
    void LogSoftmaxBackward(Tensor y, Tensor dy, Tensor dx);
    void MarginLoss(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor loss);
    void MarginLossBackward(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor gradLoss,
        Tensor gradLogits);

    // ---- optimizer and augmentation ----
    /// <summary>Fused SGD: g = grad + wd·param; buf = m·buf + g; param -= lr·(nesterov ? g + m·buf : buf).</summary>
    void SgdStep(SgdParams p, Tensor param, Tensor grad, Tensor momentum);
    /// <summary>Per-sample random crop after zero padding, and horizontal flip, from Philox (purpose 3).</summary>
    void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, ulong seed, uint stream, uint firstSample);
    /// <summary>y = x + sigma·N(0,1) from Philox (purpose 7); row s of y is sample firstSample + (ids?[s] ?? s), and
    /// x has y's shape or one row (replicated).</summary>
    void GaussianNoise(Tensor x, Tensor y, float sigma, ulong seed, uint stream, uint firstSample, Tensor? sampleIds);

    // ---- keyed from device memory: a step's per-call values in tensors, so a captured step replays with new ones ----
    // key: Int32[4] = (seed lo, seed hi, stream, firstSample) (Tensors.DeviceKey); lr: Float32[1].
    /// <summary>As PgdRandomStart with the key read on the device; row s is sample firstSample + sampleIds[s].</summary>
    void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, Tensor key, Tensor sampleIds);
    void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, Tensor key);
    void GaussianNoise(Tensor x, Tensor y, float sigma, Tensor key, Tensor? sampleIds);
    /// <summary>As SgdStep with the learning rate read on the device (p.LearningRate is not used).</summary>
    void SgdStep(SgdParams p, Tensor lr, Tensor param, Tensor grad, Tensor momentum);
}
