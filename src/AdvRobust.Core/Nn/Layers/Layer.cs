using AdvRobust.Core.Autograd;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>
/// A module with one input and one output: the unit <see cref="Sequential"/> chains. Its forward pass records on
/// <paramref name="tape"/> and reads <see cref="Module.Training"/> (batch norm: batch or running statistics).
/// </summary>
public abstract class Layer : Module
{
    public abstract Variable Forward(Tape tape, Variable x);
}

/// <summary>ReLU as a layer (no parameters), for <see cref="Sequential"/> stacks.</summary>
public sealed class Relu : Layer
{
    public override Variable Forward(Tape tape, Variable x) => F.Relu(tape, x);
}

/// <summary>Max or average pooling as a layer (no parameters).</summary>
public sealed class Pool2d : Layer
{
    public Pool2d(PoolParams p) => Params = p;

    public PoolParams Params { get; }

    public override Variable Forward(Tape tape, Variable x) => F.Pool2d(tape, x, Params);
}

/// <summary>N×C×H×W → N×(C·H·W), no copy.</summary>
public sealed class Flatten : Layer
{
    public override Variable Forward(Tape tape, Variable x) => F.Flatten(tape, x);
}
