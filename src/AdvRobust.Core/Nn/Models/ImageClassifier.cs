using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Layers;

namespace AdvRobust.Core.Nn.Models;

/// <summary>
/// What the zoo's models share: the input shape C×H×W they accept, the class count, and input normalization as the
/// first layer (fixed per-channel mean and std, no checkpoint entries), so every model takes [0, 1] pixels.
/// Subclasses implement <see cref="ForwardNormalized"/> on the normalized batch.
/// </summary>
public abstract class ImageClassifier : Classifier
{
    private readonly int[] _inputShape;

    protected ImageClassifier(ParameterInit init, int classes, int[] inputShape, float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(init);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Length != 3 || inputShape.Any(d => d < 1))
            throw new ArgumentException(
                $"input shape must be C×H×W with positive sizes, got [{string.Join(", ", inputShape)}]");
        if (classes < 2) throw new ArgumentException($"a classifier needs at least 2 classes, got {classes}");
        if (mean.Length != inputShape[0])
            throw new ArgumentException($"{inputShape[0]} input channels but {mean.Length} normalization means");
        _inputShape = (int[])inputShape.Clone();
        Classes = classes;
        Normalize = RegisterModule("normalize", new Normalize(init.Backend, mean, std));
    }

    public override int Classes { get; }
    public override int[] InputShape => (int[])_inputShape.Clone();
    public Normalize Normalize { get; }

    /// <summary>Checks that <paramref name="x"/> is N×C×H×W of <see cref="InputShape"/>, normalizes it, and runs the
    /// network.</summary>
    public sealed override ModelOutput Forward(Tape tape, Variable x)
    {
        var s = x.Shape;
        if (s.Rank != 4 || s[1] != _inputShape[0] || s[2] != _inputShape[1] || s[3] != _inputShape[2])
            throw new ArgumentException(
                $"{GetType().Name} takes N×{string.Join("×", _inputShape)} images, got {s}");
        return ForwardNormalized(tape, Normalize.Forward(tape, x));
    }

    protected abstract ModelOutput ForwardNormalized(Tape tape, Variable x);

    /// <summary>N×C×H×W → N×C, averaging each plane (the models' global average pooling).</summary>
    protected static Variable GlobalAvgPool(Tape tape, Variable x) => F.GlobalAvgPool(tape, x);
}
