using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>Argument checks shared by the attacks.</summary>
internal static class AttackChecks
{
    public static void Validate(IAttack attack, Tensor x, Tensor labels, uint[] sampleIds, Tensor? targets)
    {
        string name = attack.Name;
        if (x.DType != DType.Float32 || x.Rank < 2)
            throw new ArgumentException($"{name}: x must be a Float32 N×... batch, got {x}");
        int n = x.Shape[0];
        if (labels.DType != DType.Int32 || labels.Shape != new Shape(n))
            throw new ArgumentException($"{name}: labels must be Int32 [{n}], got {labels}");
        if (sampleIds.Length != n) throw new ArgumentException($"{name}: {sampleIds.Length} sample ids for {n} rows");
        if (attack.NeedsTargets && (targets is null || targets.DType != DType.Int32 || targets.Shape != new Shape(n)))
            throw new ArgumentException($"{name}: a targeted attack needs Int32 targets [{n}]");
        if (!attack.NeedsTargets && targets is not null)
            throw new ArgumentException($"{name} takes no targets (APGD-T chooses its own from the clean logits)");
    }
}
