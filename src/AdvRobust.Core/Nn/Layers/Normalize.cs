using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>
/// The model's first layer: y[:, c] = (x[:, c] − mean[c]) / std[c], computed as x·(1/std) + (−mean/std), so models
/// take [0, 1] pixels and attacks work in pixel space. Fixed constants: no parameters and no buffers, so it adds
/// nothing to a checkpoint (the PyTorch models it mirrors normalize outside the state dict too).
/// </summary>
public sealed class Normalize : Layer
{
    private readonly Tensor _scale;
    private readonly Tensor _shift;

    public Normalize(IBackend backend, float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException(
                $"Normalize needs one mean and one std per channel, got {mean.Length} and {std.Length}");
        if (std.Any(s => !(s > 0f) || !float.IsFinite(s)))
            throw new ArgumentException(
                $"Normalize: every std must be positive and finite, got [{string.Join(", ", std)}]");
        Mean = (float[])mean.Clone();
        Std = (float[])std.Clone();
        _scale = Tensor.FromArray(backend, std.Select(s => 1f / s).ToArray(), std.Length);
        _shift = Tensor.FromArray(backend, mean.Zip(std, (m, s) => -m / s).ToArray(), std.Length);
    }

    public float[] Mean { get; }
    public float[] Std { get; }

    public override Variable Forward(Tape tape, Variable x)
    {
        if (x.Shape.Rank < 2 || x.Shape[1] != Mean.Length)
            throw new ArgumentException($"Normalize has {Mean.Length} channels, the input is {x.Shape}");
        return F.ChannelAffine(tape, x, tape.Constant(_scale), tape.Constant(_shift));
    }

    public override void Dispose()
    {
        _scale.Dispose();
        _shift.Dispose();
        base.Dispose();
    }
}
