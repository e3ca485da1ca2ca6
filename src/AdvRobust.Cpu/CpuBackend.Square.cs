using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/square.cu: the host arithmetic of the Square Attack's queries, called on the backend's own
// memory (Square.CandidateLinf, SquareL2.Candidate in Core; l2 in double). Shape letters: x0, best, candidates
// N×C×H×W; marginMin, lossMin N floats; ids N UInt32 as Int32 bits; logits N×K. One task per row; each thread keeps
// its l2 scratch (δ, one window, η(s) for the last side), so a query allocates nothing once it has grown.
public sealed partial class CpuBackend
{
    [ThreadStatic] private static SquareScratch? _squareScratch;

    private sealed class SquareScratch(int d)
    {
        public readonly double[] Delta = new double[d];
        public double[] Eta = [], U = [];
        public int Side = -1;
    }

    // Rows with marginMin > 0: the query's candidate; other rows: a copy of best. The query index is p.Query or the
    // counter's value, the side p.Side or the schedule's side for it.
    public void SquareCandidates(SquareParams p, Tensor x0, Tensor best, Tensor marginMin, Tensor sampleIds,
        Tensor? query, Tensor candidates)
    {
        int n = x0.Shape[0], c = x0.Shape[1], h = x0.Shape[2], w = x0.Shape[3], d = c * h * w;
        if (query is not null)
        {
            int at = query.I()[0];
            p = p with { Query = at, Side = p.Schedule!.Value.Side(p.Norm, at, h, w) };
        }
        int s = p.Side;
        CpuParallel.For(0, n, i =>
        {
            ReadOnlySpan<float> x0i = x0.F().Slice(i * d, d), bi = best.F().Slice(i * d, d);
            Span<float> ci = candidates.F().Slice(i * d, d);
            uint id = (uint)sampleIds.I()[i];
            if (!(marginMin.F()[i] > 0f)) bi.CopyTo(ci);
            else if (p.Norm == PgdNorm.Linf)
                Square.CandidateLinf(x0i, bi, ci, c, h, w, s, p.Eps, p.Seed, id, p.Stream, p.Query);
            else
            {
                var sc = _squareScratch is { } old && old.Delta.Length == d
                    ? old
                    : _squareScratch = new SquareScratch(d);
                if (sc.Side != s) (sc.Eta, sc.U, sc.Side) = (SquareL2.Eta(s), new double[s * s], s);
                SquareL2.Candidate(x0i, bi, ci, c, h, w, s, sc.Eta, p.Eps, p.Seed, p.Stream, id, p.Query, sc.Delta,
                    sc.U);
            }
        });
    }

    // Rows with marginMin > 0: m = z_y − max_{j≠y} z_j (float); improved = m < lossMin; accepted when improved or
    // m ≤ 0 (then marginMin = m and best = the candidate). Then the query counter, if any, moves on by one.
    public void SquareAccept(Tensor logits, Tensor labels, Tensor candidates, Tensor best, Tensor marginMin,
        Tensor lossMin, Tensor? query)
    {
        if (query is not null) query.I()[0]++;
        int n = best.Shape[0], d = (int)best.Shape.PerSample, k = logits.Shape[1];
        CpuParallel.For(0, n, i =>
        {
            Span<float> mm = marginMin.F(), lm = lossMin.F();
            if (!(mm[i] > 0f)) return;
            ReadOnlySpan<float> z = logits.F().Slice(i * k, k);
            int y = labels.I()[i];
            float other = float.NegativeInfinity;
            for (int j = 0; j < k; j++) if (j != y) other = MathF.Max(other, z[j]);
            float m = z[y] - other;
            bool improved = m < lm[i];
            if (improved) lm[i] = m;
            if (!improved && !(m <= 0f)) return;
            mm[i] = m;
            candidates.F().Slice(i * d, d).CopyTo(best.F().Slice(i * d, d));
        });
    }
}
