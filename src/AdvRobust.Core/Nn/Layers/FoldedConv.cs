using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>
/// A bias-free convolution's weight with an eval-mode batch norm's per-channel scale folded in:
/// W'[k, c, r, s] = W[k, c, r, s] · scale[k] (one float rounding, <see cref="Ops.ChannelAffine"/> over W viewed as
/// 1×K×(C·R·S)×1), so conv(x, W') + shift[k] = bn(conv(x, W)) up to rounding. Recomputed in place whenever the
/// <see cref="Storage.Version"/> of W, the scale or the shift moved (an SGD step, a checkpoint load, new running
/// statistics: the scale and shift are <see cref="BatchNormEvalCache"/>'s, refreshed just before).
/// </summary>
internal sealed class FoldedConv : IDisposable
{
    private readonly long[] _versions = [-1, -1, -1];

    public FoldedConv(Tensor weight) => Weight = Tensor.Empty(weight.Backend, DType.Float32, weight.Shape.Dims.ToArray());

    public Tensor Weight { get; }

    /// <summary>How many times W' was computed (tests check the invalidation).</summary>
    public int Computations { get; private set; }

    public void Refresh(Tensor weight, Tensor scale, Tensor shift)
    {
        Tensor[] sources = [weight, scale, shift];
        bool stale = false;
        for (int i = 0; i < sources.Length; i++) stale |= sources[i].Storage.Version != _versions[i];
        if (!stale) return;
        int k = weight.Shape[0], rest = checked((int)(weight.Length / k));
        Ops.ChannelAffine(weight.View(1, k, rest, 1), scale, null, Weight.View(1, k, rest, 1));
        Weight.Storage.MarkWritten();  // W' is convolved as a ConstantWeight: what a backend derived from it is stale
        for (int i = 0; i < sources.Length; i++) _versions[i] = sources[i].Storage.Version;
        Computations++;
    }

    public void Dispose() => Weight.Dispose();
}
