using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

public static partial class Ops
{
    /// <summary>
    /// Attack bookkeeping for one iterate of N samples (logits N×K, loss N or N×M terms, Int32 labels and targets N,
    /// x the iterate): see <see cref="IBackend.AttackTrack"/>. No value leaves the device.
    /// </summary>
    public static void AttackTrack(AttackTrackParams p, Tensor logits, Tensor loss, Tensor labels, Tensor? targets,
        Tensor x, BestState best)
    {
        const string op = nameof(AttackTrack);
        var backend = SameBackend(op, targets is null ? [logits, loss, labels, x, best.Loss] : [logits, loss, labels,
            x, best.Loss, targets]);
        int n = best.Count;
        RequireF32(op, logits);
        RequireF32(op, loss);
        RequireF32(op, x);
        RequireRank(op, logits, 2);
        Require(logits.Shape[0] == n && logits.Shape[1] >= 1, op, $"logits {logits.Shape} for {n} samples");
        Require(n == 0 ? loss.Length == 0 : loss.Length % n == 0 && loss.Length > 0, op,
            $"loss of {loss.Length} values for {n} samples");
        Require(labels.DType == DType.Int32 && labels.Length == n, op, $"labels must be {n} Int32 values");
        Require(targets is null || (targets.DType == DType.Int32 && targets.Length == n), op,
            $"targets must be {n} Int32 values");
        Require(x.Rank >= 1 && x.Shape[0] == n, op, $"x {x.Shape} for {n} samples");
        Require(best.X is null || best.X.Shape == x.Shape, op, $"best.X {best.X?.Shape} and x {x.Shape} differ");
        if (n > 0) backend.AttackTrack(p, logits, loss, labels, targets, x, best);
    }

    /// <summary>
    /// One APGD step on x (N×...), per sample s with η = s.Step[s]:
    ///   z = P(x + η·sign(g)) (L2: η·g/(‖g‖ + 1e-12)); x_new = P(x + a(z − x) + (1 − a)(x − x_old)); x_old = x,
    /// with P the projection onto the eps-ball around x0 and [0, 1] and a = <paramref name="momentum"/>.
    /// </summary>
    public static void ApgdStep(PgdNorm norm, float eps, float momentum, Tensor x, Tensor x0, Tensor grad, ApgdState s)
    {
        const string op = nameof(ApgdStep);
        var backend = SameBackend(op, x, x0, grad, s.Step, s.XOld, s.Z);
        RequireApgd(op, x, grad, s);
        RequireSameShape(op, x, x0);
        Require(float.IsFinite(eps) && eps >= 0, op, $"eps must be finite and >= 0, got {eps}");
        Require(momentum is >= 0f and <= 1f, op, $"momentum must lie in [0, 1], got {momentum}");
        if (x.Shape[0] > 0) backend.ApgdStep(norm, eps, momentum, x, x0, grad, s);
    }

    /// <summary>
    /// APGD bookkeeping after evaluating iterate x (loss N per sample, grad its gradient): counts a rise of the loss,
    /// keeps the best point and its gradient, and at a checkpoint halves η where the schedule says so and moves
    /// those samples back to their best point (Attacks/ApgdSchedule.cs).
    /// </summary>
    public static void ApgdSchedule(ApgdScheduleParams p, Tensor loss, Tensor x, Tensor grad, ApgdState s)
    {
        const string op = nameof(ApgdSchedule);
        var backend = SameBackend(op, loss, x, grad, s.Step, s.XBest);
        RequireApgd(op, x, grad, s);
        RequireF32(op, loss);
        Require(loss.Length == x.Shape[0], op, $"loss of {loss.Length} values for {x.Shape[0]} samples");
        Require(p.Window >= 1, op, $"window {p.Window}");
        if (x.Shape[0] > 0) backend.ApgdSchedule(p, loss, x, grad, s);
    }

    private static void RequireApgd(string op, Tensor x, Tensor grad, ApgdState s)
    {
        RequireF32(op, x);
        RequireF32(op, grad);
        RequireSameShape(op, x, grad);
        RequireSameShape(op, x, s.XBest);
        Require(x.Rank >= 1 && s.Step.Length == x.Shape[0], op, $"state of {s.Step.Length} samples for x {x.Shape}");
    }
}
