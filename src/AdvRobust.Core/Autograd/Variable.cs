using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

/// <summary>A tensor on a tape: its value, whether a gradient flows to it, and the node that made it.</summary>
public sealed class Variable
{
    internal Variable(Tensor value, bool requiresGrad, Node? creator, Parameter? parameter = null)
    {
        Value = value;
        RequiresGrad = requiresGrad;
        Creator = creator;
        Parameter = parameter;
    }

    public Tensor Value { get; }
    public bool RequiresGrad { get; }
    public Shape Shape => Value.Shape;

    /// <summary>After <see cref="Tape.Backward"/>: the gradient of a leaf input (owned by the tape).</summary>
    public Tensor? Grad { get; internal set; }

    internal Node? Creator { get; }
    internal Parameter? Parameter { get; }

    public override string ToString() => $"Variable{Shape}{(RequiresGrad ? " requires grad" : "")}";
}

/// <summary>What the tape records: (op, inputs, saved values) plus the op's attributes. The rule lives in Derivatives.</summary>
internal sealed record Node(OpKind Op, Variable[] Inputs, Tensor[] Saved, object? Attributes)
{
    public Variable Output { get; set; } = null!;
}

/// <summary>The ops the tape knows how to differentiate; one rule each in <see cref="Derivatives"/>.</summary>
internal enum OpKind
{
    Unary, Binary, Scale, View, MatMul, SumAll, Conv2d, Conv2dBiasRelu, Pool2d, BatchNormTrain, BatchNormEval, ChannelAffine,
    CrossEntropy, LogSoftmax, Margin, PairwiseDistance, TripletLoss,
    GatherRows, // F.Gather.cs (rule: F.GatherRowsBackward)
    BatchNormSynced, // F.SyncBatchNorm.cs (rule: F.BatchNormSyncedBackward)
}
