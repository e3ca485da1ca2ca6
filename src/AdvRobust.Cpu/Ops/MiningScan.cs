using System.Numerics;
using System.Runtime.Intrinsics;

namespace AdvRobust.Cpu;

/// <summary>One anchor's running farthest positive and nearest and farthest negative (index -1: none yet).</summary>
internal record struct AnchorBest(int Pos, float DPos, int Near, float DNear, int Far, float DFar);

/// <summary>
/// Sweep 1 of the CPU mining (CpuBackend.Triplet.cs): one anchor's distances to pool columns j0..j0+cols−1 update its
/// running bests. <see cref="Scalar"/> is the definition; <see cref="Vector"/> gives the same result bit for bit and
/// index for index, 16 columns at a time.
/// </summary>
internal static class MiningScan
{
    /// <summary>
    /// In order of j, skipping j == self: a column with the anchor's label is a positive, any other a negative, and
    /// a strictly farther positive, nearer or farther negative replaces the best (so ties keep the lowest j, and a
    /// NaN best, taken only as the first candidate, is never replaced).
    /// </summary>
    public static void Scalar(ref AnchorBest s, ReadOnlySpan<float> dist, ReadOnlySpan<int> labels, int label, int j0,
        int self)
    {
        for (int c = 0; c < dist.Length; c++)
        {
            int j = j0 + c;
            if (j == self) continue;
            float v = dist[c];
            if (labels[c] == label)
            {
                if (s.Pos < 0 || v > s.DPos) (s.Pos, s.DPos) = (j, v);
            }
            else
            {
                if (s.Near < 0 || v < s.DNear) (s.Near, s.DNear) = (j, v);
                if (s.Far < 0 || v > s.DFar) (s.Far, s.DFar) = (j, v);
            }
        }
    }

    /// <summary>
    /// <see cref="Scalar"/>'s result: per lane the max of the positives and the min and max of the negatives, and
    /// only where a lane beats the running best strictly, the lowest column equal to the chunk's best (what the
    /// in-order scan keeps). Without a NaN in the chunk every max and min is exact, whatever their order. A partial
    /// last vector overlaps the one before, which changes no max, min or first column. Returns false, having
    /// changed nothing, without AVX-512, below 16 columns, or when a distance is NaN: the caller runs Scalar.
    /// </summary>
    public static bool Vector(ref AnchorBest s, ReadOnlySpan<float> dist, ReadOnlySpan<int> labels, int label, int j0,
        int self)
    {
        int cols = dist.Length;
        if (!Vector512.IsHardwareAccelerated || cols < 16) return false;
        var (lab, inf) = (Vector512.Create(label), Vector512.Create(float.PositiveInfinity));
        Vector512<float> posMax = -inf, negMin = inf, negMax = -inf, anyPos = default, anyNeg = default, nan = default;
        for (int c = 0; c < cols; c += 16)
        {
            var (v, pos, neg) = Lanes(dist, labels, lab, self - j0, Math.Min(c, cols - 16));
            nan |= Vector512.IsNaN(v);
            (anyPos, anyNeg) = (anyPos | pos, anyNeg | neg);
            posMax = Vector512.MaxNative(posMax, Vector512.ConditionalSelect(pos, v, -inf));
            negMin = Vector512.MinNative(negMin, Vector512.ConditionalSelect(neg, v, inf));
            negMax = Vector512.MaxNative(negMax, Vector512.ConditionalSelect(neg, v, -inf));
        }
        if (nan != Vector512<float>.Zero) return false;
        if (anyPos != Vector512<float>.Zero && (s.Pos < 0 || Vector512.GreaterThanAny(posMax, Vector512.Create(s.DPos))))
            s.DPos = dist[(s.Pos = First(dist, labels, lab, j0, self, true, Reduce(posMax, true))) - j0];
        if (anyNeg == Vector512<float>.Zero) return true;
        if (s.Near < 0 || Vector512.LessThanAny(negMin, Vector512.Create(s.DNear)))
            s.DNear = dist[(s.Near = First(dist, labels, lab, j0, self, false, Reduce(negMin, false))) - j0];
        if (s.Far < 0 || Vector512.GreaterThanAny(negMax, Vector512.Create(s.DFar)))
            s.DFar = dist[(s.Far = First(dist, labels, lab, j0, self, false, Reduce(negMax, true))) - j0];
        return true;
    }

    /// <summary>Columns c..c+15: the distances, and all-ones lanes where a column is a positive or a negative.</summary>
    private static (Vector512<float> V, Vector512<float> Pos, Vector512<float> Neg) Lanes(ReadOnlySpan<float> dist,
        ReadOnlySpan<int> labels, Vector512<int> label, int self, int c)
    {
        var keep = ~Vector512.Equals(Vector512<int>.Indices, Vector512.Create(self - c));
        var same = Vector512.Equals(Vector512.Create(labels.Slice(c, 16)), label);
        return (Vector512.Create(dist.Slice(c, 16)), (same & keep).AsSingle(), Vector512.AndNot(keep, same).AsSingle());
    }

    /// <summary>The lowest j of a positive (or negative) column whose distance equals <paramref name="target"/>.</summary>
    private static int First(ReadOnlySpan<float> dist, ReadOnlySpan<int> labels, Vector512<int> label, int j0,
        int self, bool positive, float target)
    {
        for (int c = 0; ; c += 16)
        {
            int o = Math.Min(c, dist.Length - 16);
            var (v, pos, neg) = Lanes(dist, labels, label, self - j0, o);
            ulong hit = (Vector512.Equals(v, Vector512.Create(target)) & (positive ? pos : neg)).ExtractMostSignificantBits();
            if (hit != 0) return j0 + o + BitOperations.TrailingZeroCount(hit);
        }
    }

    /// <summary>The max (or min) of the 16 lanes, none of them NaN.</summary>
    private static float Reduce(Vector512<float> x, bool max)
    {
        Vector128<float> M(Vector128<float> a, Vector128<float> b) =>
            max ? Vector128.MaxNative(a, b) : Vector128.MinNative(a, b);
        var q = M(M(x.GetLower().GetLower(), x.GetLower().GetUpper()), M(x.GetUpper().GetLower(), x.GetUpper().GetUpper()));
        q = M(q, Vector128.Shuffle(q, Vector128.Create(2, 3, 0, 1)));
        return M(q, Vector128.Shuffle(q, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }
}
