using AdvRobust.Core.Random;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// The l2 branch of the Square Attack (<see cref="Square"/>), checked against fra31/auto-attack autoattack/square.py
/// (attack_single_run with norm 'L2', eta_rectangles, eta, lp_norm). One sample at a time (the CPU twin of
/// kernels/square.cu); shape letters C×H×W per sample, δ = x_best − x its current perturbation, ‖·‖ the l2
/// (Frobenius) norm.
///
/// Window profile ρ(a, b), an a×b "pyramid" of nested rectangles around the cell (⌊a/2⌋, ⌊b/2⌋): the reference adds
/// 1/(k+1)² on the rectangle of Chebyshev radius k for k = 0 … M − 1, M = max(⌊a/2⌋, ⌊b/2⌋) + 1, so in closed form
///   ρ(a, b)_ij = Σ_{k = max(|i − ⌊a/2⌋|, |j − ⌊b/2⌋|)}^{M−1} 1/(k+1)²,  then scaled to ‖ρ‖ = 1.
/// Update shape η(s), s×s: the top ⌊s/2⌋ rows are ρ(⌊s/2⌋, s), the other s − ⌊s/2⌋ rows −ρ(s − ⌊s/2⌋, s), scaled to
/// ‖η‖ = 1 and transposed with probability ½: a positive and a negative bump side by side.
///
/// Init (the "meta pseudo-Gaussian" start): s₀ = max(⌊min(H, W)/5⌋, 1); s₀×s₀ windows tile each axis of length L at
/// stride s₀ from ⌊(L − 5·s₀)/2⌋ (at most ⌊L/s₀⌋ of them, each wholly inside); window w of channel c gets σ_wc·η(s₀)
/// (σ = ±1, η transposed or not per window); x_best = clamp(x + eps·δ/‖δ‖, 0, 1).
/// Query i with p = Square.P(i): side s = <see cref="Side"/>(p); two s×s windows W₁, W₂ at random positions (the same
/// in every channel); with F = max(eps² − ‖δ‖², 0) the free budget and ‖δ[W₁ ∪ W₂]‖ over all channels, per channel c
///   u_c = σ_c·η(s) + δ_c[W₁]/(‖δ_c[W₁]‖ + 1e-12),   u_c ← u_c·√(F/C + ‖δ[W₁ ∪ W₂]‖²)/(‖u_c‖ + 1e-12);
/// then δ[W₂] = 0, δ[W₁] = u (W₁ wins where they overlap) and the candidate is clamp(x + eps·δ/(‖δ‖ + 1e-12), 0, 1).
/// The final rescaling puts every candidate exactly on the eps-sphere before the [0, 1] clamp (which only shortens δ
/// since x ∈ [0, 1]), so the result lies in the l2 ball; the window budget alone (C·(F/C + ‖δ[W₁ ∪ W₂]‖²) over the
/// channels, as in the reference) may exceed eps² and relies on it.
///
/// Differences from the reference (beyond those listed on <see cref="Square"/>): arithmetic on δ is in double (the
/// reference uses float32); windows and signs are drawn per sample (Philox, purpose <see cref="Square.PurposeStep"/>:
/// element 2·i gives the four window coordinates, element 2·i + 1 the channel signs (bit c) and the transpose (top bit
/// of the second word); purpose <see cref="Square.PurposeInit"/>, element = init window index, gives that window's
/// signs and transpose), where the reference draws one W₁, W₂, η orientation per query (and one orientation per init
/// window) for the whole batch; window corners are uniform over all H − s + 1 rows and W − s + 1 columns. The
/// reference sizes and centres its init windows from H alone and fails where a window would cross the border (14×14:
/// its seventh window would start at row 14; H &lt; 5: s₀ = 0); here s₀ uses min(H, W), each axis is centred on its
/// own length and border-crossing windows are skipped, which is the reference's layout on every square image it
/// accepts. <see cref="Side"/> is capped at min(H, W) (the reference fails for larger squares).
/// </summary>
public static class SquareL2
{
    /// <summary>Query side: max(round(√(p·H·W)), 3), made odd by adding 1, at most min(H, W) (round half to even).
    /// </summary>
    public static int Side(float p, int h, int w)
    {
        int s = Math.Max((int)Math.Round(Math.Sqrt(p * h * w)), 3);
        if (s % 2 == 0) s++;
        return Math.Min(s, Math.Min(h, w));
    }

    /// <summary>Side of the init windows: max(⌊min(H, W)/5⌋, 1) (the reference's ⌊H/5⌋ on square images).</summary>
    public static int InitSide(int h, int w) => Math.Max(Math.Min(h, w) / 5, 1);

    /// <summary>Starts of the init windows along an axis of <paramref name="length"/>: sp + k·s for k &lt; ⌊L/s⌋,
    /// sp = max(⌊(L − 5s)/2⌋, 0), keeping only windows wholly inside.</summary>
    public static int[] InitStarts(int length, int s)
    {
        int sp = Math.Max((length - 5 * s) / 2, 0);
        return Enumerable.Range(0, length / s).Select(k => sp + k * s).Where(start => start + s <= length).ToArray();
    }

    /// <summary>ρ(a, b), a×b row-major, unit norm (empty when a or b is 0).</summary>
    public static double[] EtaRectangles(int a, int b)
    {
        var rho = new double[a * b];
        if (rho.Length == 0) return rho;
        int ci = a / 2, cj = b / 2, m = Math.Max(ci, cj) + 1;
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                for (int k = Math.Max(Math.Abs(i - ci), Math.Abs(j - cj)); k < m; k++)
                    rho[i * b + j] += 1.0 / ((k + 1.0) * (k + 1.0));
        Normalize(rho);
        return rho;
    }

    /// <summary>η(s), s×s row-major, unit norm, not transposed: ρ(⌊s/2⌋, s) over −ρ(s − ⌊s/2⌋, s).</summary>
    public static double[] Eta(int s)
    {
        int top = s / 2;
        var eta = new double[s * s];
        double[] upper = EtaRectangles(top, s), lower = EtaRectangles(s - top, s);
        upper.CopyTo(eta, 0);
        for (int e = 0; e < lower.Length; e++) eta[upper.Length + e] = -lower[e];
        Normalize(eta);
        return eta;
    }

    /// <summary>Writes the initial points of n samples (x0 and xBest are n×C×H×W on the host).</summary>
    public static void Init(float[] x0, float[] xBest, int n, int c, int h, int w, float eps, ulong seed, uint stream,
        uint[] ids)
    {
        int d = c * h * w, s = InitSide(h, w);
        int[] rowStarts = InitStarts(h, s), colStarts = InitStarts(w, s);
        double[] eta = Eta(s);
        var delta = new double[d];
        for (int a = 0; a < n; a++)
        {
            Array.Clear(delta);
            for (int kr = 0; kr < rowStarts.Length; kr++)
                for (int kc = 0; kc < colStarts.Length; kc++)
                {
                    var r = Philox.Draw(seed, stream, Square.PurposeInit, ids[a], (uint)(kr * colStarts.Length + kc));
                    bool transpose = (r.X1 & 0x80000000u) != 0;
                    for (int ch = 0; ch < c; ch++)
                    {
                        double sign = ((r.X0 >> ch) & 1u) != 0 ? 1 : -1;
                        for (int i = 0; i < s; i++)
                            for (int j = 0; j < s; j++)
                                delta[(ch * h + rowStarts[kr] + i) * w + colStarts[kc] + j] +=
                                    sign * (transpose ? eta[j * s + i] : eta[i * s + j]);
                    }
                }
            Place(x0.AsSpan(a * d, d), delta, eps, xBest.AsSpan(a * d, d));
        }
    }

    /// <summary>
    /// The candidate of query <paramref name="it"/> for one sample: x0, xBest and candidate are its C×H×W pixels,
    /// <paramref name="eta"/> is η(s) and <paramref name="delta"/> (C·H·W) and <paramref name="u"/> (s·s) are scratch.
    /// </summary>
    public static void Candidate(ReadOnlySpan<float> x0, ReadOnlySpan<float> xBest, Span<float> candidate, int c, int h,
        int w, int s, double[] eta, float eps, ulong seed, uint stream, uint id, int it, double[] delta, double[] u)
    {
        int d = c * h * w;
        double image2 = 0;
        for (int e = 0; e < d; e++)
        {
            delta[e] = (double)xBest[e] - x0[e];
            image2 += delta[e] * delta[e];
        }
        var win = Philox.Draw(seed, stream, Square.PurposeStep, id, 2u * (uint)it);
        var bits = Philox.Draw(seed, stream, Square.PurposeStep, id, 2u * (uint)it + 1u);
        int vh = (int)(win.X0 % (uint)(h - s + 1)), vw = (int)(win.X1 % (uint)(w - s + 1));
        int vh2 = (int)(win.X2 % (uint)(h - s + 1)), vw2 = (int)(win.X3 % (uint)(w - s + 1));
        bool transpose = (bits.X1 & 0x80000000u) != 0;

        // ‖δ[W₁ ∪ W₂]‖² over all channels, then the norm every channel's new window gets.
        double windows2 = 0;
        for (int ch = 0; ch < c; ch++)
            for (int row = Math.Min(vh, vh2); row < Math.Max(vh, vh2) + s; row++)
                for (int col = Math.Min(vw, vw2); col < Math.Max(vw, vw2) + s; col++)
                    if (Inside(row, col, vh, vw, s) || Inside(row, col, vh2, vw2, s))
                    {
                        double v = delta[(ch * h + row) * w + col];
                        windows2 += v * v;
                    }
        double target = Math.Sqrt(Math.Max((double)eps * eps - image2, 0) / c + windows2);

        for (int ch = 0; ch < c; ch++)
        {
            int plane = ch * h * w;
            double window1 = 0;
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++)
                {
                    double v = delta[plane + (vh + i) * w + vw + j];
                    window1 += v * v;
                }
            window1 = Math.Sqrt(window1);
            double sign = ((bits.X0 >> ch) & 1u) != 0 ? 1 : -1, norm = 0;
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++)
                {
                    double v = sign * (transpose ? eta[j * s + i] : eta[i * s + j])
                        + delta[plane + (vh + i) * w + vw + j] / (window1 + 1e-12);
                    u[i * s + j] = v;
                    norm += v * v;
                }
            double scale = target / (Math.Sqrt(norm) + 1e-12);
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++) delta[plane + (vh2 + i) * w + vw2 + j] = 0;
            for (int i = 0; i < s; i++)
                for (int j = 0; j < s; j++) delta[plane + (vh + i) * w + vw + j] = u[i * s + j] * scale;
        }
        Place(x0, delta, eps, candidate);
    }

    /// <summary>out = clamp(x0 + eps·δ/(‖δ‖ + 1e-12), 0, 1): δ put on the eps-sphere, then into the box.</summary>
    private static void Place(ReadOnlySpan<float> x0, double[] delta, float eps, Span<float> result)
    {
        double norm = 0;
        for (int e = 0; e < x0.Length; e++) norm += delta[e] * delta[e];
        double scale = eps / (Math.Sqrt(norm) + 1e-12);
        for (int e = 0; e < x0.Length; e++) result[e] = (float)Math.Clamp(x0[e] + delta[e] * scale, 0.0, 1.0);
    }

    private static bool Inside(int row, int col, int vh, int vw, int s) =>
        row >= vh && row < vh + s && col >= vw && col < vw + s;

    private static void Normalize(double[] v)
    {
        double norm = Math.Sqrt(v.Sum(e => e * e));
        for (int e = 0; e < v.Length; e++) v[e] /= norm;
    }
}
