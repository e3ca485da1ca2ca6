using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

/// <summary>
/// Records every differentiable op of one forward pass and runs the backward pass over it. The tape owns every
/// intermediate, saved value and gradient it creates and frees them all on Dispose (deterministically, not by the GC):
/// use one tape per step inside a using block. With <see cref="ParameterGradients"/> off (attack mode) parameters are
/// constants, so no weight gradient is ever computed — the convolution's backward-filter is never called.
/// </summary>
public sealed class Tape : IDisposable
{
    private readonly List<Node> _nodes = [];
    private readonly List<Tensor> _owned = [];

    public Tape(IBackend backend, bool parameterGradients = true)
    {
        Backend = backend;
        ParameterGradients = parameterGradients;
    }

    public IBackend Backend { get; }
    public bool ParameterGradients { get; }
    public int NodeCount => _nodes.Count;

    /// <summary>Bytes of every tensor the tape owns now (intermediates, saved values, gradients): a pass's footprint.</summary>
    public long OwnedBytes => _owned.Sum(t => t.Storage.Bytes);

    /// <summary>A value no gradient flows to (labels, clean images, a frozen reference).</summary>
    public Variable Constant(Tensor value) => new(value, false, null);

    /// <summary>A leaf whose gradient the caller wants (the input image of an attack).</summary>
    public Variable Input(Tensor value) => new(value, true, null);

    public Variable Param(Parameter p) => new(p.Value, ParameterGradients && p.RequiresGrad, null, p);

    /// <summary>A tensor the tape owns and frees.</summary>
    public Tensor Empty(params int[] dims) => Own(Tensor.Empty(Backend, DType.Float32, dims));

    public Tensor Own(Tensor t)
    {
        _owned.Add(t);
        return t;
    }

    internal Variable Record(OpKind op, Tensor output, object? attributes, Variable[] inputs, params Tensor[] saved)
    {
        Own(output);
        if (!inputs.Any(i => i.RequiresGrad)) return new Variable(output, false, null);
        var node = new Node(op, inputs, saved, attributes);
        var result = new Variable(output, true, node);
        node.Output = result;
        _nodes.Add(node);
        return result;
    }

    /// <summary>
    /// Back-propagates from a scalar (one-element) <paramref name="loss"/>: parameter gradients accumulate into
    /// <see cref="Parameter.Grad"/>, and leaf inputs get <see cref="Variable.Grad"/>.
    /// </summary>
    public void Backward(Variable loss)
    {
        if (loss.Value.Length != 1)
            throw new ArgumentException($"Backward needs a scalar loss, got shape {loss.Shape}; reduce it first (F.Mean)");
        if (!loss.RequiresGrad) throw new InvalidOperationException("the loss does not depend on anything that requires a gradient");
        var grads = new Dictionary<Variable, Tensor>(ReferenceEqualityComparer.Instance);
        // A rule may hand the same tensor to several inputs (Add passes g through), so a sum is only formed in place
        // in a tensor this loop made itself.
        var sums = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var seed = Empty(loss.Shape.Dims.ToArray());
        Ops.Fill(seed, 1f);
        grads[loss] = seed;
        for (int i = _nodes.Count - 1; i >= 0; i--)
        {
            var node = _nodes[i];
            if (!grads.TryGetValue(node.Output, out var g)) continue;
            var inputGrads = Derivatives.Apply(node, g, this);
            for (int k = 0; k < node.Inputs.Length; k++)
            {
                var input = node.Inputs[k];
                if (!input.RequiresGrad || inputGrads[k] is not { } gk) continue;
                if (!grads.TryGetValue(input, out var existing))
                {
                    grads[input] = gk;
                }
                else if (sums.Contains(existing))
                {
                    Ops.Axpby(1f, gk, 1f, existing);
                }
                else
                {
                    var sum = Empty(existing.Shape.Dims.ToArray());
                    Ops.Binary(BinaryOp.Add, existing, gk, sum);
                    sums.Add(sum);
                    grads[input] = sum;
                }
            }
        }
        foreach (var (variable, g) in grads)
        {
            if (variable.Creator is not null) continue;
            if (variable.Parameter is { } p) p.AccumulateGrad(g);
            else variable.Grad = g;
        }
    }

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
        _nodes.Clear();
    }
}
