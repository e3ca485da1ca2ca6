using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

/// <summary>
/// A named, trainable tensor of a model (PyTorch-style name, e.g. "layer1.0.conv1.weight"). Its gradient accumulates
/// across backward passes until <see cref="ZeroGrad"/>; the optimizer keeps its momentum here too.
/// </summary>
public sealed class Parameter : IDisposable
{
    public Parameter(string name, Tensor value)
    {
        Name = name;
        Value = value;
    }

    public string Name { get; }
    public Tensor Value { get; }
    public Tensor? Grad { get; private set; }
    public Tensor? Momentum { get; set; }

    /// <summary>False freezes the parameter: no gradient is computed for it (e.g. backward-filter is skipped).</summary>
    public bool RequiresGrad { get; set; } = true;

    /// <summary>Adds <paramref name="g"/> to the gradient (allocated on first use).</summary>
    public void AccumulateGrad(Tensor g)
    {
        if (Grad is null)
        {
            Grad = Tensor.Empty(Value.Backend, DType.Float32, Value.Shape.Dims.ToArray());
            Ops.Copy(g, Grad);
        }
        else
        {
            Ops.Axpby(1f, g, 1f, Grad);
        }
    }

    public void ZeroGrad()
    {
        if (Grad is not null) Ops.Fill(Grad, 0f);
    }

    public void Dispose()
    {
        Value.Dispose();
        Grad?.Dispose();
        Momentum?.Dispose();
    }

    public override string ToString() => $"{Name} {Value.Shape}";
}
