using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>
/// Eval-mode batch norm's per-channel constants (scale, shift, and the invStd and xhatShift its backward needs), kept
/// between passes so that an eval forward is one channel-affine launch instead of eleven. They are recomputed, by
/// <see cref="F.BatchNormEvalAffine"/>'s exact op sequence, whenever the <see cref="Storage.Version"/> of γ, β or a
/// running statistic has moved since the last computation: an SGD step, a training-mode forward (running
/// statistics), a checkpoint or resume load (CopyIn), or any write through <see cref="Ops"/>.
/// Recomputation is in place, so the tensors keep their addresses (a captured graph stays valid).
/// </summary>
internal sealed class BatchNormEvalCache : IDisposable
{
    private readonly long[] _versions = [-1, -1, -1, -1];

    public BatchNormEvalCache(IBackend backend, int channels)
    {
        InvStd = Tensor.Empty(backend, DType.Float32, channels);
        Scale = Tensor.Empty(backend, DType.Float32, channels);
        Shift = Tensor.Empty(backend, DType.Float32, channels);
        XhatShift = Tensor.Empty(backend, DType.Float32, channels);
    }

    public Tensor InvStd { get; }
    public Tensor Scale { get; }
    public Tensor Shift { get; }
    public Tensor XhatShift { get; }

    /// <summary>How many times the constants were computed (tests check the invalidation).</summary>
    public int Computations { get; private set; }

    /// <summary>Recomputes the constants if any source tensor was written since the last call.</summary>
    public void Refresh(BatchNormParams p, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar)
    {
        Tensor[] sources = [gamma, beta, runningMean, runningVar];
        bool stale = false;
        for (int i = 0; i < sources.Length; i++) stale |= sources[i].Storage.Version != _versions[i];
        if (!stale) return;
        F.BatchNormEvalAffine(p, gamma, beta, runningMean, runningVar, InvStd, Scale, Shift, XhatShift);
        for (int i = 0; i < sources.Length; i++) _versions[i] = sources[i].Storage.Version;
        Computations++;
    }

    public void Dispose()
    {
        InvStd.Dispose();
        Scale.Dispose();
        Shift.Dispose();
        XhatShift.Dispose();
    }
}
