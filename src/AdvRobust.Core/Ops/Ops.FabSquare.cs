using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

/// <summary>FAB-T step settings: the attack's norm, α_max, the extrapolation η and the step back β.</summary>
public readonly record struct FabParams(PgdNorm Norm, float AlphaMax, float Eta, float Beta);

/// <summary>One Square query: norm, eps, window side s, query index and the Philox key (seed, stream). With a
/// <see cref="Schedule"/>, the query index is read from a device counter instead and the side follows from it
/// (<see cref="Side"/> and <see cref="Query"/> are then unused).</summary>
public readonly record struct SquareParams(PgdNorm Norm, float Eps, int Side, int Query, ulong Seed, uint Stream)
{
    public SquareSchedule? Schedule { get; init; }
}

/// <summary>Square's p schedule (<see cref="Attacks.Square.P"/>): the side of query i is Square.Side (l-inf) or
/// SquareL2.Side (l2) of P(i, PInit, Queries, Rescale).</summary>
public readonly record struct SquareSchedule(float PInit, int Queries, bool Rescale)
{
    /// <summary>The side of query <paramref name="query"/> on an H×W image (the CPU twin of square_side in
    /// kernels/square.cu).</summary>
    public int Side(PgdNorm norm, int query, int h, int w)
    {
        float p = Attacks.Square.P(query, PInit, Queries, Rescale);
        return norm == PgdNorm.L2 ? Attacks.SquareL2.Side(p, h, w) : Attacks.Square.Side(p, h, w);
    }
}

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
        Require(p.Schedule is null, nameof(SquareCandidates), "a scheduled query needs its query counter");
        CheckSquareCandidates(p, x0, best, marginMin, sampleIds, null, candidates)
            .SquareCandidates(p, x0, best, marginMin, sampleIds, null, candidates);
    }

    /// <summary>
    /// The same for the query index held on the device in <paramref name="query"/> (one Int32, which
    /// <see cref="SquareAccept(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)"/> advances), with the side
    /// from p.Schedule: a query whose arguments do not change from one query to the next, so it can be replayed as a
    /// graph.
    /// </summary>
    public static void SquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin, Tensor sampleIds,
        Tensor query, Tensor candidates) =>
        CheckSquareCandidates(p, x0, best, marginMin, sampleIds, query, candidates)
            .SquareCandidates(p, x0, best, marginMin, sampleIds, query, candidates);

    private static IBackend CheckSquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin,
        Tensor sampleIds, Tensor? query, Tensor candidates)
    {
        const string op = nameof(SquareCandidates);
        var backend = SameBackend(op, x0, best, marginMin, sampleIds, candidates);
        CheckRows(op, x0, best, candidates);
        Require(x0.Rank == 4, op, $"x0 must be N×C×H×W, got {x0.Shape}");
        int n = x0.Shape[0], c = x0.Shape[1], h = x0.Shape[2], w = x0.Shape[3];
        Require(c is >= 1 and <= 32, op, $"1 to 32 channels, got {c}");
        Require(p.Norm is PgdNorm.Linf or PgdNorm.L2, op, $"norm {p.Norm}");
        if (query is null)
        {
            Require(p.Side >= 1 && p.Side <= Math.Min(h, w) && p.Side <= SquareMaxSide, op,
                $"window side {p.Side} must be in [1, min(H, W) = {Math.Min(h, w)}] and at most {SquareMaxSide}");
            Require(p.Query >= 0 && (p.Norm == PgdNorm.Linf || p.Query < int.MaxValue / 2), op, $"query {p.Query}");
        }
        else
        {
            Require(p.Schedule is not null, op, "a query read from the device needs the p schedule");
            CheckSquareCounter(op, backend, query);
            var s = p.Schedule!.Value;
            Require(s.PInit is > 0f and <= 1f && s.Queries is >= 0 and < int.MaxValue / 2, op,
                $"schedule {s}: p_init in (0, 1] and 0 <= queries < 2^30");
            // Sides only shrink along the schedule: the first query's is the largest.
            Require(s.Side(p.Norm, 0, h, w) <= SquareMaxSide, op, $"window sides at most {SquareMaxSide}");
        }
        Require(float.IsFinite(p.Eps) && p.Eps >= 0, op, $"eps must be finite and >= 0, got {p.Eps}");
        CheckVector(op, marginMin, DType.Float32, n);
        CheckVector(op, sampleIds, DType.Int32, n);
        return backend;
    }

    /// <summary>
    /// Square acceptance, per row with marginMin &gt; 0: m = z_y − max_{j≠y} z_j from the N×K logits of the candidates;
    /// lossMin ← m where m &lt; lossMin; where m &lt; lossMin or m ≤ 0, marginMin ← m and best ← the candidate row.
    /// </summary>
    public static void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin,
        Tensor lossMin) => CheckSquareAccept(logits, labels, candidates, best, marginMin, lossMin)
        .SquareAccept(logits, labels, candidates, best, marginMin, lossMin, null);

    /// <summary>The same, then the device query counter (one Int32) moves on by one.</summary>
    public static void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin,
        Tensor lossMin, Tensor query)
    {
        var backend = CheckSquareAccept(logits, labels, candidates, best, marginMin, lossMin);
        CheckSquareCounter(nameof(SquareAccept), backend, query);
        Require(best.Shape[0] >= 1, nameof(SquareAccept), "a counted query needs at least one row");
        backend.SquareAccept(logits, labels, candidates, best, marginMin, lossMin, query);
    }

    private static IBackend CheckSquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best,
        Tensor marginMin, Tensor lossMin)
    {
        const string op = nameof(SquareAccept);
        var backend = SameBackend(op, logits, labels, candidates, best, marginMin, lossMin);
        CheckRows(op, best, candidates);
        CheckLogitRows(op, best, logits, labels, null);
        CheckVector(op, marginMin, DType.Float32, best.Shape[0]);
        CheckVector(op, lossMin, DType.Float32, best.Shape[0]);
        return backend;
    }

    private static void CheckSquareCounter(string op, IBackend backend, Tensor query)
    {
        Require(ReferenceEquals(SameBackend(op, query), backend), op, "the query counter lives on another backend");
        CheckVector(op, query, DType.Int32, 1);
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
