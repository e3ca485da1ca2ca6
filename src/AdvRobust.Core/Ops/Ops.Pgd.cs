using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

public static partial class Ops
{
    /// <summary>
    /// In place on x (N×...): x ← clip(Proj_{‖x−x0‖≤eps}(x + step), lo, hi) with step = alpha·sign(g) for l-inf
    /// and alpha·g/‖g‖ per sample for l2 (a zero gradient takes no step).
    /// </summary>
    public static void PgdStep(PgdNorm norm, Tensor x, Tensor x0, Tensor grad, PgdParams p)
    {
        const string op = nameof(PgdStep);
        var backend = SameBackend(op, x, x0, grad);
        RequireF32(op, x);
        RequireF32(op, x0);
        RequireF32(op, grad);
        RequireSameShape(op, x, x0);
        RequireSameShape(op, x, grad);
        CheckPgdParams(op, p);
        Require(x.Rank >= 1, op, "x needs a batch axis");
        backend.PgdStep(norm, x, x0, grad, p);
    }

    /// <summary>
    /// x = clip(x0 + delta, lo, hi), delta uniform in the l-inf ball, or uniform in the l2 ball (Gaussian direction,
    /// radius eps·u^(1/D)). Draws come from Philox4x32-10 keyed by (seed, stream, global sample index, element), so
    /// the result does not depend on launch geometry, and a batch split gives the same noise when each part passes the
    /// global index of its first row as <paramref name="firstSample"/>.
    /// </summary>
    public static void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, ulong seed, uint stream = 0,
        uint firstSample = 0)
    {
        const string op = nameof(PgdRandomStart);
        var backend = SameBackend(op, x, x0);
        RequireF32(op, x);
        RequireF32(op, x0);
        RequireSameShape(op, x, x0);
        CheckPgdParams(op, p);
        Require(x.Rank >= 1, op, "x needs a batch axis");
        Require(x.Shape[0] == 0 || (long)firstSample + x.Shape[0] - 1 <= uint.MaxValue, op, "sample index passes 2^32");
        backend.PgdRandomStart(norm, x, x0, p, seed, stream, firstSample);
    }

    private static void CheckPgdParams(string op, PgdParams p)
    {
        Require(float.IsFinite(p.Eps) && p.Eps >= 0, op, $"eps must be finite and >= 0, got {p.Eps}");
        Require(float.IsFinite(p.Alpha) && p.Alpha >= 0, op, $"alpha must be finite and >= 0, got {p.Alpha}");
        Require(p.Lo <= p.Hi, op, $"box [{p.Lo}, {p.Hi}] is empty");
    }
}
