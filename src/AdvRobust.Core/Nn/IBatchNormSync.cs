namespace AdvRobust.Core.Nn;

/// <summary>
/// The processes that together hold one global batch (the ranks of a data-parallel run), as a training-mode
/// <see cref="Layers.BatchNorm2d"/> with <see cref="Layers.BatchNorm2d.Sync"/> set sees them: a sum over every
/// participant, so that the layer normalizes with the global batch's statistics (synchronized batch norm,
/// <see cref="Autograd.F.BatchNormSynced"/>). Core knows nothing of the transport; the data-parallel code implements
/// this over its communicator. Every participant must call it in the same order with the same length (two calls per
/// layer per forward and backward), so every rank must run the same passes through the model.
/// </summary>
public interface IBatchNormSync
{
    /// <summary>Element-wise sum over every participant, in place; every participant gets the result.</summary>
    void AllReduceSum(Span<double> values);
}
