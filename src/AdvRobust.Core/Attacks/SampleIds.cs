using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>Helpers for the per-row global sample indices every attack takes.</summary>
public static class SampleIds
{
    /// <summary>firstSample, firstSample + 1, ..., firstSample + n − 1.</summary>
    public static uint[] Range(uint firstSample, int n)
    {
        if (n > 0 && (ulong)firstSample + (ulong)n - 1 > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(n), "sample indices pass 2^32");
        var ids = new uint[n];
        for (int i = 0; i < n; i++) ids[i] = firstSample + (uint)i;
        return ids;
    }

    /// <summary>Attacks a batch of consecutive samples from global index <paramref name="firstSample"/>.</summary>
    public static AttackResult Run(this IAttack attack, Classifier model, Tensor x, Tensor labels, uint firstSample,
        Tensor? targets = null, IProgress<AttackProgress>? progress = null) =>
        attack.Run(model, x, labels, Range(firstSample, x.Shape[0]), targets, progress);
}
