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

    /// <summary>While <see cref="Backward"/> runs: the nodes it has still to visit (0 once it is done).</summary>
    public int NodesLeft { get; private set; }

    /// <summary>
    /// Back-propagates from a scalar (one-element) <paramref name="loss"/>: parameter gradients accumulate into
    /// <see cref="Parameter.Grad"/>, and leaf inputs get <see cref="Variable.Grad"/>. A parameter's gradient is final
    /// right after the last node (in backward order) that consumes it has run: it is accumulated into
    /// <see cref="Parameter.Grad"/> then, and <paramref name="onGradientReady"/> is called with the parameter (once per
    /// parameter that received a gradient in this pass, while the rest of the pass is still to run), so a
    /// data-parallel rank can start reducing it. A parameter the graph uses several times (several leaves) is
    /// accumulated leaf by leaf in the order the leaves first received a gradient, the same additions as one
    /// accumulation after the pass; across Backward calls the gradients keep adding up (the hook fires in each pass).
    /// </summary>
    public void Backward(Variable loss, Action<Parameter>? onGradientReady = null)
    {
        if (loss.Value.Length != 1)
            throw new ArgumentException($"Backward needs a scalar loss, got shape {loss.Shape}; reduce it first (F.Mean)");
        if (!loss.RequiresGrad) throw new InvalidOperationException("the loss does not depend on anything that requires a gradient");
        var grads = new Dictionary<Variable, Tensor>(ReferenceEqualityComparer.Instance);
        // A rule may hand the same tensor to several inputs (Add passes g through), so a sum is only formed in place
        // in a tensor this loop made itself.
        var sums = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var finalAfter = ParametersFinalAfter();
        // each parameter's leaves, in the order they first received a gradient (the order of grads' entries)
        var leaves = new Dictionary<Parameter, List<Variable>>(ReferenceEqualityComparer.Instance);
        var seed = Empty(loss.Shape.Dims.ToArray());
        Ops.Fill(seed, 1f);
        grads[loss] = seed;
        if (loss.Parameter is { } lossParameter) leaves[lossParameter] = [loss];
        for (int i = _nodes.Count - 1; i >= 0; i--)
        {
            NodesLeft = i;
            var node = _nodes[i];
            if (grads.TryGetValue(node.Output, out var g)) Propagate(node, g, grads, sums, leaves);
            if (finalAfter[i] is { } final)
                foreach (var p in final) Finish(p, grads, leaves, onGradientReady);
        }
        NodesLeft = 0;
        // parameters no node consumes (the loss itself is one) are final now
        foreach (var p in leaves.Keys.ToArray()) Finish(p, grads, leaves, onGradientReady);
        foreach (var (variable, g) in grads)
            if (variable.Creator is null && variable.Parameter is null) variable.Grad = g;
    }

    private void Propagate(Node node, Tensor g, Dictionary<Variable, Tensor> grads, HashSet<Tensor> sums,
        Dictionary<Parameter, List<Variable>> leaves)
    {
        var inputGrads = Derivatives.Apply(node, g, this);
        for (int k = 0; k < node.Inputs.Length; k++)
        {
            var input = node.Inputs[k];
            if (!input.RequiresGrad || inputGrads[k] is not { } gk) continue;
            if (!grads.TryGetValue(input, out var existing))
            {
                grads[input] = gk;
                if (input.Creator is null && input.Parameter is { } p)
                {
                    if (leaves.TryGetValue(p, out var list)) list.Add(input);
                    else leaves[p] = [input];
                }
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

    /// <summary>Accumulates <paramref name="p"/>'s leaves' gradients (if any arrived) and raises the hook.</summary>
    private static void Finish(Parameter p, Dictionary<Variable, Tensor> grads,
        Dictionary<Parameter, List<Variable>> leaves, Action<Parameter>? onGradientReady)
    {
        if (!leaves.Remove(p, out var list)) return;
        foreach (var leaf in list) p.AccumulateGrad(grads[leaf]);
        onGradientReady?.Invoke(p);
    }

    /// <summary>For each node index, the parameters whose last consumer in backward order (their lowest-index
    /// consumer) it is, or null.</summary>
    private List<Parameter>?[] ParametersFinalAfter()
    {
        var final = new List<Parameter>?[_nodes.Count];
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < _nodes.Count; i++)
            foreach (var input in _nodes[i].Inputs)
                if (input.RequiresGrad && input.Creator is null && input.Parameter is { } p && seen.Add(p))
                    (final[i] ??= []).Add(p);
        return final;
    }

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
        _nodes.Clear();
    }
}
