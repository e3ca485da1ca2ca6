using AdvRobust.Core.Autograd;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>Layers applied in order, named "0", "1", ... as PyTorch's nn.Sequential names them (so a ReLU or pooling
/// layer takes an index even though it has no parameters), e.g. "shortcut.0.weight", "shortcut.1.running_mean".
/// </summary>
public sealed class Sequential : Layer
{
    private readonly List<Layer> _layers = [];

    public Sequential(params Layer[] layers)
    {
        foreach (var layer in layers) Add(layer);
    }

    public int Count => _layers.Count;
    public Layer this[int index] => _layers[index];

    public Sequential Add(Layer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        _layers.Add(RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer));
        return this;
    }

    public override Variable Forward(Tape tape, Variable x)
    {
        foreach (var layer in _layers) x = layer.Forward(tape, x);
        return x;
    }
}
