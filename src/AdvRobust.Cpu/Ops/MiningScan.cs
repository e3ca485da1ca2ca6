using System.Numerics;
using System.Runtime.Intrinsics;

namespace AdvRobust.Cpu;

/// <summary>One anchor's running farthest positive and nearest and farthest negative (index -1: none yet).</summary>
internal record struct AnchorBest(int Pos, float DPos, int Near, float DNear, int Far, float DFar);

/// <summary>Sweep 1 of the CPU mining (CpuBackend.Triplet.cs): one anchor's distances to pool columns j0.. update its
/// running bests. <see cref="Scalar"/> is the definition; <see cref="Scan"/> gives its results bit for bit.</summary>
internal static class MiningScan
{
    /// <summary>In order of j, skipping j == self: a strictly farther positive, nearer or farther negative replaces
    /// the best, so ties keep the lowest j and a NaN best (taken only as the first candidate) stays.</summary>
    public static void Scalar(ref AnchorBest s, ReadOnlySpan<float> dist, ReadOnlySpan<int> labels, int label, int j0,
        int self)
    {
        for (int c = 0; c < dist.Length; c++)
        {
            int j = j0 + c;
            float v = dist[c];
            if (j == self) continue;
            if (labels[c] == label)
            {
                if (s.Pos < 0 || v > s.DPos) (s.Pos, s.DPos) = (j, v);
                continue;
            }
            if (s.Near < 0 || v < s.DNear) (s.Near, s.DNear) = (j, v);
            if (s.Far < 0 || v > s.DFar) (s.Far, s.DFar) = (j, v);
        }
    }

    /// <summary>Scalar's result: <see cref="Vector"/> (or Scalar where it declines) on the columns before the
    /// anchor's own, then on those after it, which is the same in-order scan.</summary>
    public static void Scan(ref AnchorBest s, ReadOnlySpan<float> dist, ReadOnlySpan<int> labels, int label, int j0,
        int self)
    {
        int own = (uint)(self - j0) < (uint)dist.Length ? self - j0 : dist.Length;
        for (int lo = 0, hi = own; lo < dist.Length; lo = hi + 1, hi = dist.Length)
            if (!Vector(ref s, dist[lo..hi], labels[lo..hi], label, j0 + lo))
                Scalar(ref s, dist[lo..hi], labels[lo..hi], label, j0 + lo, -1);
    }

    /// <summary>
    /// Scalar's result without a self column, 16 columns at a time: per lane the max of the positives and the min
    /// and max of the negatives (exact in any order when no distance is NaN), then, only where a lane beats the
    /// running best strictly, the lowest column equal to the chunk's best. A partial last vector overlaps the one
    /// before, which changes no max, min or lowest column. False, having changed nothing, without AVX-512, below
    /// 16 columns or with a NaN distance.
    /// </summary>
    public static bool Vector(ref AnchorBest s, ReadOnlySpan<float> dist, ReadOnlySpan<int> labels, int label, int j0)
    {
        int cols = dist.Length, c;
        if (!Vector512.IsHardwareAccelerated || cols < 16) return false;
        var (lab, inf) = (Vector512.Create(label), Vector512.Create(float.PositiveInfinity));
        Vector512<float> posMax = -inf, negMin = inf, negMax = -inf, nan = default;
        for (c = 0; c < cols; c += 16)
        {
            var (v, pos) = Lanes(dist, labels, lab, Math.Min(c, cols - 16));
            nan |= Vector512.IsNaN(v);
            posMax = Vector512.ConditionalSelect(pos, Vector512.MaxNative(posMax, v), posMax);
            negMin = Vector512.ConditionalSelect(pos, negMin, Vector512.MinNative(negMin, v));
            negMax = Vector512.ConditionalSelect(pos, negMax, Vector512.MaxNative(negMax, v));
        }
        if (nan != Vector512<float>.Zero) return false;
        // A chunk without positives (negatives) leaves those lanes at -inf (+inf): First finds no column, -1.
        if ((s.Pos < 0 || Vector512.GreaterThanAny(posMax, Vector512.Create(s.DPos))) &&
            (c = First(dist, labels, lab, true, Reduce(posMax, true))) >= 0) (s.Pos, s.DPos) = (j0 + c, dist[c]);
        if ((s.Near < 0 || Vector512.LessThanAny(negMin, Vector512.Create(s.DNear))) &&
            (c = First(dist, labels, lab, false, Reduce(negMin, false))) >= 0) (s.Near, s.DNear) = (j0 + c, dist[c]);
        if ((s.Far < 0 || Vector512.GreaterThanAny(negMax, Vector512.Create(s.DFar))) &&
            (c = First(dist, labels, lab, false, Reduce(negMax, true))) >= 0) (s.Far, s.DFar) = (j0 + c, dist[c]);
        return true;
    }

    /// <summary>Columns c..c+15: the distances, and all-ones lanes where the column is a positive.</summary>
    private static (Vector512<float> V, Vector512<float> Pos) Lanes(ReadOnlySpan<float> dist, ReadOnlySpan<int> labels,
        Vector512<int> label, int c) =>
        (Vector512.Create(dist.Slice(c, 16)),
            Vector512.Equals(Vector512.Create(labels.Slice(c, 16)), label).AsSingle());

    /// <summary>The lowest positive (or negative) column at distance <paramref name="target"/>, or -1.</summary>
    private static int First(ReadOnlySpan<float> dist, ReadOnlySpan<int> labels, Vector512<int> label, bool positive,
        float target)
    {
        var t = Vector512.Create(target);
        for (int c = 0; c < dist.Length; c += 16)
        {
            int o = Math.Min(c, dist.Length - 16);
            var (v, pos) = Lanes(dist, labels, label, o);
            ulong hit = (Vector512.Equals(v, t) & (positive ? pos : ~pos)).ExtractMostSignificantBits();
            if (hit != 0) return o + BitOperations.TrailingZeroCount(hit);
        }
        return -1;
    }

    /// <summary>The max (or min) of the 16 lanes, none of them NaN.</summary>
    private static float Reduce(Vector512<float> x, bool max)
    {
        Vector128<float> M(Vector128<float> a, Vector128<float> b) =>
            max ? Vector128.MaxNative(a, b) : Vector128.MinNative(a, b);
        var (lo, hi) = (x.GetLower(), x.GetUpper());
        var q = M(M(lo.GetLower(), lo.GetUpper()), M(hi.GetLower(), hi.GetUpper()));
        q = M(q, Vector128.Shuffle(q, Vector128.Create(2, 3, 0, 1)));
        return M(q, Vector128.Shuffle(q, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }
}
