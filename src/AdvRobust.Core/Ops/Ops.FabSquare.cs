using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

/// <summary>FAB-T step settings: the attack's norm, α_max, the extrapolation η and the step back β.</summary>
public readonly record struct FabParams(PgdNorm Norm, float AlphaMax, float Eta, float Beta);

/// <summary>One Square query: norm, eps, window side s, query index and the Philox key (seed, stream).</summary>
public readonly record struct SquareParams(PgdNorm Norm, float Eps, int Side, int Query, ulong Seed, uint Stream);

public static partial class Ops
{
    /// <summary>The largest Square window side the kernels take (their η(s) table lives in shared memory).</summary>
    public const int SquareMaxSide = 1024;

    /// <summary>
    /// One FAB-T step in place on x (N×..., rows of D pixels): with f = z_t − z_y from the N×K logits and w = grad, x
    /// and x0 are projected onto the hyperplane w·x' = w·x − f within [0, 1]^D and x moves to the α-weighted, η-
    /// extrapolated combination of the two (Core/Attacks/Fab.cs states the math; the CPU twin is Fab.Step).
    /// </summary>
    public static void FabStep(FabParams p, Tensor x, Tensor x0, Tensor grad, Tensor logits, Tensor labels,
        Tensor targets)
    {
        const string op = nameof(FabStep);
        var backend = SameBackend(op, x, x0, grad, logits, labels, targets);
        CheckRows(op, x, x0, grad);
        CheckLogitRows(op, x, logits, labels, targets);
        CheckFab(op, p);
        backend.FabStep(p, x, x0, grad, logits, labels, targets);
    }

    /// <summary>
    /// FAB-T bookkeeping after a step, per row misclassified by the N×K logits (argmax ≠ label, lowest index wins a
    /// tie): where ‖x − x0‖ (in double) is below bestNorm, best ← x and bestNorm ← that norm; then x ← x0 + β(x − x0).
    /// bestNorm holds N doubles in a Float32 tensor of 2N values (the engine has no Float64 dtype).
    /// </summary>
    public static void FabAccept(FabParams p, Tensor x, Tensor x0, Tensor logits, Tensor labels, Tensor best,
        Tensor bestNorm)
    {
        const string op = nameof(FabAccept);
        var backend = SameBackend(op, x, x0, logits, labels, best, bestNorm);
        CheckRows(op, x, x0, best);
        CheckLogitRows(op, x, logits, labels, null);
        RequireF32(op, bestNorm);
        Require(bestNorm.Length == 2L * x.Shape[0], op, $"bestNorm needs 2·N = {2L * x.Shape[0]} floats (N doubles)");
        CheckFab(op, p);
        backend.FabAccept(p, x, x0, logits, labels, best, bestNorm);
    }

    /// <summary>
    /// Square query candidates for x0, best N×C×H×W: rows with marginMin &gt; 0 get best with one s×s window changed
    /// from Philox (purpose 6) keyed by (seed, stream, sampleIds[row], query) as Core/Attacks/Square.cs and
    /// SquareL2.cs state; the other rows get a copy of best. sampleIds holds N UInt32 ids as Int32 bits.
    /// </summary>
    public static void SquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin, Tensor sampleIds,
        Tensor candidates)
    {
        const string op = nameof(SquareCandidates);
        var backend = SameBackend(op, x0, best, marginMin, sampleIds, candidates);
        CheckRows(op, x0, best, candidates);
        Require(x0.Rank == 4, op, $"x0 must be N×C×H×W, got {x0.Shape}");
        int n = x0.Shape[0], c = x0.Shape[1], h = x0.Shape[2], w = x0.Shape[3];
        Require(c is >= 1 and <= 32, op, $"1 to 32 channels, got {c}");
        Require(p.Side >= 1 && p.Side <= Math.Min(h, w) && p.Side <= SquareMaxSide, op,
            $"window side {p.Side} must be in [1, min(H, W) = {Math.Min(h, w)}] and at most {SquareMaxSide}");
        Require(p.Query >= 0 && (p.Norm == PgdNorm.Linf || p.Query < int.MaxValue / 2), op, $"query {p.Query}");
        Require(p.Norm is PgdNorm.Linf or PgdNorm.L2, op, $"norm {p.Norm}");
        Require(float.IsFinite(p.Eps) && p.Eps >= 0, op, $"eps must be finite and >= 0, got {p.Eps}");
        CheckVector(op, marginMin, DType.Float32, n);
        CheckVector(op, sampleIds, DType.Int32, n);
        backend.SquareCandidates(p, x0, best, marginMin, sampleIds, candidates);
    }

    /// <summary>
    /// Square acceptance, per row with marginMin &gt; 0: m = z_y − max_{j≠y} z_j from the N×K logits of the candidates;
    /// lossMin ← m where m &lt; lossMin; where m &lt; lossMin or m ≤ 0, marginMin ← m and best ← the candidate row.
    /// </summary>
    public static void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin,
        Tensor lossMin)
    {
        const string op = nameof(SquareAccept);
        var backend = SameBackend(op, logits, labels, candidates, best, marginMin, lossMin);
        CheckRows(op, best, candidates);
        CheckLogitRows(op, best, logits, labels, null);
        CheckVector(op, marginMin, DType.Float32, best.Shape[0]);
        CheckVector(op, lossMin, DType.Float32, best.Shape[0]);
        backend.SquareAccept(logits, labels, candidates, best, marginMin, lossMin);
    }

    private static void CheckRows(string op, Tensor x, params Tensor[] like)
    {
        RequireF32(op, x);
        Require(x.Rank >= 1, op, "x needs a batch axis");
        foreach (var t in like)
        {
            RequireF32(op, t);
            RequireSameShape(op, x, t);
        }
    }

    private static void CheckLogitRows(string op, Tensor x, Tensor logits, Tensor labels, Tensor? targets)
    {
        RequireF32(op, logits);
        RequireRank(op, logits, 2);
        Require(logits.Shape[0] == x.Shape[0] && logits.Shape[1] >= 2, op,
            $"logits {logits.Shape} must be N×K with N = {x.Shape[0]} and K >= 2");
        CheckVector(op, labels, DType.Int32, x.Shape[0]);
        if (targets is not null) CheckVector(op, targets, DType.Int32, x.Shape[0]);
    }

    private static void CheckVector(string op, Tensor v, DType dtype, int n) =>
        Require(v.DType == dtype && v.Length == n, op, $"a {dtype} vector of {n} values expected, got {v}");

    private static void CheckFab(string op, FabParams p)
    {
        Require(p.Norm is PgdNorm.Linf or PgdNorm.L2, op, $"norm {p.Norm}");
        Require(p.AlphaMax is >= 0f and <= 1f && p.Beta is >= 0f and <= 1f, op, "alpha_max and beta must be in [0, 1]");
        Require(p.Eta > 0f && float.IsFinite(p.Eta), op, $"eta must be finite and > 0, got {p.Eta}");
    }
}
