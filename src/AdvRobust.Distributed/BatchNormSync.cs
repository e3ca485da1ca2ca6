using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;

namespace AdvRobust.Distributed;

/// <summary>
/// Synchronized batch norm over the ranks of a run: every rank's per-channel statistics are summed with one
/// all-reduce of doubles (<see cref="ICommunicator.AllReduceSum{T}"/>), two per batch-norm layer per forward and
/// backward (2C+1 and 2C values).
/// </summary>
public sealed class BatchNormSync(ICommunicator world) : IBatchNormSync
{
    public void AllReduceSum(Span<double> values) => world.AllReduceSum(values);

    /// <summary>Makes every <see cref="BatchNorm2d"/> of <paramref name="model"/> normalize with the global batch's
    /// statistics over <paramref name="world"/>; returns how many layers there are.</summary>
    public static int Attach(ICommunicator world, Module model)
    {
        var sync = new BatchNormSync(world);
        int layers = 0;
        foreach (var bn in model.Modules().OfType<BatchNorm2d>())
        {
            bn.Sync = sync;
            layers++;
        }
        return layers;
    }
}
