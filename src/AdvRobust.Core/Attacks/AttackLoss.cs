using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>The per-sample objectives an attacker maximizes (formulas in <see cref="AttackLoss.Compute"/>).</summary>
public enum AttackLossKind { CrossEntropy, CW, Dlr, TargetedDlr }

/// <summary>
/// Per-sample attack losses over logits z (N×K) with labels y, built from <see cref="F.CrossEntropy"/> and
/// <see cref="F.Margin"/> so that the tape differentiates them. Every loss is one the attacker MAXIMIZES:
/// <list type="bullet">
/// <item>CrossEntropy: CE(z, y); with targets t: −CE(z, t) (a targeted attack descends the target's CE).</item>
/// <item>CW: max_{j≠y} z_j − z_y; with targets: −(max_{j≠t} z_j − z_t) = z_t − max_{j≠t} z_j.</item>
/// <item>Dlr: −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12) (Croce &amp; Hein 2020); untargeted only.</item>
/// <item>TargetedDlr: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12); needs targets.</item>
/// </list>
/// </summary>
public static class AttackLoss
{
    public static Variable Compute(Tape tape, AttackLossKind kind, Variable logits, Tensor labels, Tensor? targets)
    {
        switch (kind)
        {
            case AttackLossKind.CrossEntropy:
                return targets is null
                    ? F.CrossEntropy(tape, logits, labels)
                    : F.Scale(tape, F.CrossEntropy(tape, logits, targets), -1f);
            case AttackLossKind.CW:
                return targets is null
                    ? F.Margin(tape, MarginKind.CW, logits, labels)
                    : F.Scale(tape, F.Margin(tape, MarginKind.CW, logits, targets), -1f);
            case AttackLossKind.Dlr:
                if (targets is not null) throw new ArgumentException("the DLR loss is untargeted; use TargetedDlr");
                return F.Margin(tape, MarginKind.Dlr, logits, labels);
            case AttackLossKind.TargetedDlr:
                if (targets is null) throw new ArgumentException("the targeted DLR loss needs targets");
                return F.Margin(tape, MarginKind.TargetedDlr, logits, labels, targets);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown attack loss");
        }
    }

    /// <summary>The fewest classes a loss works with (DLR sorts the top 3 logits, targeted DLR the top 4).</summary>
    public static int MinClasses(AttackLossKind kind) => kind switch
    {
        AttackLossKind.Dlr => 3,
        AttackLossKind.TargetedDlr => 4,
        _ => 2,
    };
}
