using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Nn;

/// <summary>
/// A layer or model: named parameters, named buffers (e.g. batch-norm running statistics) and named children, so that
/// full names come out PyTorch-style ("layer1.0.conv1.weight", "layer1.0.bn1.running_mean") for checkpoints.
/// Train/Eval switches batch norm between batch and running statistics, recursively.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Parameter Value)> _parameters = [];
    private readonly List<(string Name, Tensor Value)> _buffers = [];
    private readonly List<(string Name, Module Value)> _children = [];

    public bool Training { get; private set; } = true;

    public void Train() => SetTraining(true);
    public void Eval() => SetTraining(false);

    protected Parameter RegisterParameter(string name, Tensor value)
    {
        var p = new Parameter(name, value);
        _parameters.Add((name, p));
        return p;
    }

    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        _buffers.Add((name, value));
        return value;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        _children.Add((name, module));
        return module;
    }

    /// <summary>Every parameter with its full dotted name, in registration order (depth first).</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _parameters) yield return (prefix + name, p);
        foreach (var (name, child) in _children)
            foreach (var item in child.NamedParameters(prefix + name + ".")) yield return item;
    }

    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (name, b) in _buffers) yield return (prefix + name, b);
        foreach (var (name, child) in _children)
            foreach (var item in child.NamedBuffers(prefix + name + ".")) yield return item;
    }

    /// <summary>This module and every descendant, depth first.</summary>
    public IEnumerable<Module> Modules()
    {
        yield return this;
        foreach (var (_, child) in _children)
            foreach (var m in child.Modules()) yield return m;
    }

    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Freezes or unfreezes every parameter (attack mode freezes: no weight gradient is computed).</summary>
    public void SetRequiresGrad(bool requiresGrad)
    {
        foreach (var p in Parameters()) p.RequiresGrad = requiresGrad;
    }

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    public long ParameterCount() => Parameters().Sum(p => p.Value.Length);

    /// <summary>
    /// Records that every parameter and buffer may have changed (<see cref="Storage.Version"/>), so caches derived from
    /// them (eval-mode batch norm's constants) are rebuilt on their next use. Writes through <see cref="Ops"/> and
    /// CopyIn record themselves; call this after device work the host did not issue op by op, e.g. after replaying a
    /// captured training step (a replay runs no host code, so its SGD update moves no version).
    /// </summary>
    public void MarkStateWritten()
    {
        foreach (var p in Parameters()) p.Value.Storage.MarkWritten();
        foreach (var (_, b) in NamedBuffers()) b.Storage.MarkWritten();
    }

    public virtual void Dispose()
    {
        foreach (var (_, p) in _parameters) p.Dispose();
        foreach (var (_, b) in _buffers) b.Dispose();
        foreach (var (_, c) in _children) c.Dispose();
        GC.SuppressFinalize(this);
    }

    private void SetTraining(bool training)
    {
        Training = training;
        foreach (var (_, c) in _children) c.SetTraining(training);
    }
}

/// <summary>What every model returns: logits (N×K) and the penultimate embedding (N×D) the TLA triplet loss uses.</summary>
public sealed record ModelOutput(Variable Logits, Variable Embedding);

/// <summary>
/// An image classifier on [0,1] pixels (input normalization is its first layer, so attacks work in pixel space).
/// </summary>
public abstract class Classifier : Module
{
    public abstract int Classes { get; }
    public abstract int EmbeddingDim { get; }

    /// <summary>Input shape without the batch axis, e.g. [1, 28, 28] or [3, 32, 32].</summary>
    public abstract int[] InputShape { get; }

    public abstract ModelOutput Forward(Tape tape, Variable x);
}
