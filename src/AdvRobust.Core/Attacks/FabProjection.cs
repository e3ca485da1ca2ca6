namespace AdvRobust.Core.Attacks;

/// <summary>
/// FAB's projection (Croce &amp; Hein 2020, Sec. 3.1): the smallest step d (in l-inf or l2 norm) that takes a point t
/// of the box [0, 1]^D onto the hyperplane w·x = b while staying in the box,
///   d = argmin ‖d‖  subject to  w·(t + d) = b,  0 ≤ t + d ≤ 1,
/// on the host in double (the CPU twin of FabStep; kernels/fab.cu solves the same problem by bisection). Checked
/// against fra31/auto-attack autoattack/fab_projections.py (projection_linf,
/// projection_l2), which solve the same problem with a sort and a batched bisection.
///
/// The solution moves every coordinate toward the hyperplane and stops it at the box. With c = w·t − b, coordinate i
/// moves in direction s_i = −sign(c)·sign(w_i) and has room_i = 1 − t_i (s_i = +1) or t_i (s_i = −1) before the box.
///   l-inf: d_i = s_i·min(λ, room_i); each coordinate closes |w_i|·min(λ, room_i) of the gap |c|.
///   l2:    d_i = s_i·min(λ·|w_i|, room_i) (the negative gradient direction clipped at the box, the KKT point); each
///          coordinate closes w_i²·min(λ, r_i) with r_i = room_i/|w_i|.
/// Both are G(λ) = Σ_i a_i·min(λ, r_i) = |c|, a nondecreasing piecewise-linear function with a breakpoint at each
/// r_i: <see cref="Level"/> walks the sorted breakpoints to the segment where G reaches |c| and solves it there. When
/// even G(∞) = Σ_i a_i·r_i ≤ |c| (the hyperplane misses the box) every coordinate goes to its bound: the box corner
/// closest to the hyperplane, as in the reference. Coordinates with w_i = 0 (l-inf) or |w_i| ≤ 1e-8 (l2) do not move
/// (the reference's masks).
/// Differences from the reference: double precision, and a linear walk over the sorted breakpoints where the reference
/// bisects (the same segment, so the same solution up to rounding).
/// </summary>
public static class FabProjection
{
    /// <summary>Scratch of one projection of up to <see cref="Capacity"/> values, reused so a step allocates nothing.
    /// </summary>
    public sealed class Workspace(int capacity)
    {
        public int Capacity { get; } = capacity;
        internal readonly int[] Index = new int[capacity];
        internal readonly double[] Weight = new double[capacity], Breakpoint = new double[capacity];
        internal readonly double[] SortedR = new double[capacity], SortedA = new double[capacity];
        internal readonly double[] Slope = new double[capacity + 1];
        /// <summary>The two steps d₁, d₂ of one FAB step (<see cref="Fab.Step(PgdNorm, float, float, Span{float},
        /// ReadOnlySpan{float}, ReadOnlySpan{float}, float, Workspace)"/>).</summary>
        internal readonly double[] D1 = new double[capacity], D2 = new double[capacity];
    }

    /// <summary>|w_i| at or below which an l2 coordinate does not move (the reference's 1e-8).</summary>
    public const double L2MinWeight = 1e-8;

    /// <summary>d for the given norm: see the class summary. t must lie in [0, 1]^D.</summary>
    public static void Project(PgdNorm norm, ReadOnlySpan<float> t, ReadOnlySpan<float> w, double b, Span<double> d) =>
        Project(norm, t, w, b, d, new Workspace(t.Length));

    /// <summary>As <see cref="Project(PgdNorm, ReadOnlySpan{float}, ReadOnlySpan{float}, double, Span{double})"/>
    /// with caller-owned scratch (at least t.Length values).</summary>
    public static void Project(PgdNorm norm, ReadOnlySpan<float> t, ReadOnlySpan<float> w, double b, Span<double> d,
        Workspace ws)
    {
        if (t.Length != w.Length || d.Length != t.Length)
            throw new ArgumentException($"projection of {t.Length} values with {w.Length} weights into {d.Length}");
        int n = t.Length;
        double c = -b;
        for (int i = 0; i < n; i++) c += (double)w[i] * t[i];
        double sigma = c >= 0 ? 1 : -1, gap = Math.Abs(c);

        // The moving coordinates: their index, weight a_i in G and breakpoint r_i.
        if (ws.Capacity < n) throw new ArgumentException($"a workspace of {ws.Capacity} values for {n}");
        int[] index = ws.Index;
        double[] weight = ws.Weight, breakpoint = ws.Breakpoint;
        int m = 0;
        for (int i = 0; i < n; i++)
        {
            d[i] = 0;
            double wi = w[i];
            if (norm == PgdNorm.Linf ? wi == 0 : Math.Abs(wi) <= L2MinWeight) continue;
            double room = Room(t[i], Direction(sigma, wi));
            index[m] = i;
            weight[m] = norm == PgdNorm.Linf ? Math.Abs(wi) : wi * wi;
            breakpoint[m] = norm == PgdNorm.Linf ? room : room / Math.Abs(wi);
            m++;
        }
        double level = Level(weight.AsSpan(0, m), breakpoint.AsSpan(0, m), gap, ws.SortedR, ws.SortedA, ws.Slope);
        for (int j = 0; j < m; j++)
        {
            int i = index[j];
            double wi = w[i], s = Direction(sigma, wi), room = Room(t[i], s);
            double move = norm == PgdNorm.Linf ? Math.Min(level, room) : Math.Min(level * Math.Abs(wi), room);
            d[i] = s * move;
        }
    }

    /// <summary>
    /// The smallest λ ≥ 0 with Σ_i a_i·min(λ, r_i) = target (a_i &gt; 0, r_i ≥ 0), or +∞ when even every coordinate
    /// at its breakpoint does not reach it (Σ_i a_i·r_i ≤ target).
    /// </summary>
    internal static double Level(ReadOnlySpan<double> a, ReadOnlySpan<double> r, double target) =>
        Level(a, r, target, new double[a.Length], new double[a.Length], new double[a.Length + 1]);

    /// <summary>As above with scratch: rs and at hold at least n values and slope n + 1.</summary>
    private static double Level(ReadOnlySpan<double> a, ReadOnlySpan<double> r, double target, Span<double> rsAll,
        Span<double> atAll, Span<double> slopeAll)
    {
        int n = a.Length;
        double reach = 0;
        for (int i = 0; i < n; i++) reach += a[i] * r[i];
        if (!(reach > target)) return double.PositiveInfinity;
        Span<double> rs = rsAll[..n], at = atAll[..n], slope = slopeAll[..(n + 1)];
        r.CopyTo(rs);
        a.CopyTo(at);
        // The same introsort as Array.Sort(keys, items): both call ArraySortHelper<TKey, TValue>.Default.Sort.
        rs.Sort(at);
        // slope[j] = Σ of a over sorted positions j.. (the coordinates not yet at their breakpoint past rs[j − 1]).
        slope[n] = 0;
        for (int j = n - 1; j >= 0; j--) slope[j] = slope[j + 1] + at[j];
        double lambda = 0, g = 0;
        for (int j = 0; j < n; j++)
        {
            double next = g + slope[j] * (rs[j] - lambda);
            if (next >= target) return lambda + (target - g) / slope[j];
            (g, lambda) = (next, rs[j]);
        }
        return lambda; // unreachable in exact arithmetic (reach > target); rounding lands on the last breakpoint
    }

    /// <summary>s_i = −sign(c)·sign(w_i): the direction in which coordinate i closes the gap.</summary>
    private static double Direction(double sigma, double wi) => wi > 0 ? -sigma : sigma;

    /// <summary>How far coordinate t can move in direction s before it leaves [0, 1].</summary>
    private static double Room(float t, double s) => Math.Max(s > 0 ? 1.0 - t : t, 0.0);
}
