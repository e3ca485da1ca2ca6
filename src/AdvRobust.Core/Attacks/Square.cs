using AdvRobust.Core.Nn;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>Square Attack settings (Andriushchenko et al. 2020), l-inf or l2, margin loss. StopCheckEvery = k: the
/// host reads whether any sample is still being attacked before queries 0, k, 2k, … only (one flag, the only read of
/// the query loop); results are the same for every k, since a query on fooled samples changes nothing.</summary>
public sealed record SquareSettings(
    float Eps,
    int Queries = 5000,
    float PInit = 0.8f,
    int Restarts = 1,
    bool RescaleSchedule = false,
    ulong Seed = 0,
    bool KeepTrainingMode = false,
    PgdNorm Norm = PgdNorm.Linf,
    int StopCheckEvery = 10);

/// <summary>
/// Score-based Square Attack, l-inf or l2, checked against fra31/auto-attack autoattack/square.py (SquareAttack,
/// Linf and L2). It only runs forward passes on tapes that record nothing, so it never computes a gradient. Shape
/// letters: x N×C×H×W. Per sample, minimizing the margin m = z_y − max_{j≠y} z_j (the loss reported is the CW margin −m):
///   l-inf init: x_best = clamp(x + eps·σ, 0, 1) with one random sign σ per (channel, column) (vertical stripes);
///   l-inf query i: p = <see cref="P"/>(i), side s = <see cref="Side"/>(p), a window of s×s at a random position gets
///   x_best + 2·eps·σ_c (one random sign per channel), projected on the eps-ball and [0, 1];
///   l2 init and query i (SquareL2.cs has the formulas): x_best = clamp(x + eps·δ/‖δ‖₂, 0, 1) with δ a grid of
///   ±η(s₀) windows (η: a positive and a negative pyramid of nested rectangles side by side); each query takes two
///   random s×s windows (odd s from the same p schedule), empties the second, and fills the first, per channel, with
///   ±η(s) plus its old content normalized, scaled to the free budget plus the two windows' old energy; the whole δ is
///   then rescaled to ‖δ‖₂ = eps and clamped to [0, 1];
///   both: the candidate replaces x_best when its margin is lower or ≤ 0 (misclassified); samples with m ≤ 0 stop.
/// Only clean-correct points are attacked and restarts run only on points not yet fooled. A sample returns its
/// fooled point, else its lowest-margin point (the reference returns x itself there).
/// Differences from the reference: random draws are per sample from Philox keyed by the global sample index
/// (purposes 5 = init, 6 = per-query draws; l-inf: element = stripe index or query index; l2: element = init window
/// index, or 2·query and 2·query + 1), where the reference draws one window and one sign vector per query for the
/// whole batch from torch's RNG; the window position is uniform over all H − s + 1 rows (the reference's
/// ⌊rand·(H − s)⌋ never picks the last one). Each query stays on the device: the candidates of every row
/// (<see cref="Ops.SquareCandidates"/>; rows no longer attacked get a copy of x_best), one forward pass of the whole
/// batch, and the acceptance (<see cref="Ops.SquareAccept"/>, which advances the device query counter the candidates
/// read their index and side from, so every query has the same arguments and a run's queries replay as one graph);
/// kernels/square.cu, with the CPU twins
/// <see cref="CandidateLinf"/> and <see cref="SquareL2.Candidate"/>. SquareL2.cs lists the l2 branch's own differences
/// (border handling on small or
/// non-square images, double arithmetic).
/// </summary>
public sealed class Square : IAttack
{
    public const uint PurposeInit = Philox.PurposeSquareInit, PurposeStep = Philox.PurposeSquareStep;

    public Square(SquareSettings settings)
    {
        if (!(settings.Eps >= 0 && float.IsFinite(settings.Eps)))
            throw new ArgumentException($"Square eps must be finite and >= 0, got {settings.Eps}");
        if (settings.Queries < 0 || settings.Restarts < 1 || !(settings.PInit is > 0f and <= 1f))
            throw new ArgumentException("Square needs queries >= 0, restarts >= 1 and p_init in (0, 1]");
        if (settings.StopCheckEvery < 1)
            throw new ArgumentException($"Square needs StopCheckEvery >= 1, got {settings.StopCheckEvery}");
        if (settings.Norm is not (PgdNorm.Linf or PgdNorm.L2))
            throw new ArgumentException($"Square norm must be Linf or L2, got {settings.Norm}");
        Config = settings;
    }

    public SquareSettings Config { get; }
    public string Name => "square";
    public PgdNorm Norm => Config.Norm;
    public float Eps => Config.Eps;
    public bool NeedsTargets => false;
    public object Settings => Config;

    /// <summary>
    /// The fraction of pixels changed at query <paramref name="it"/> (0-based): p_init halved after queries 10, 50,
    /// 200, 500, 1000, 2000, 4000, 6000 and 8000 (rescaled to a budget of 10000 queries when asked).
    /// </summary>
    public static float P(int it, float pInit, int queries, bool rescale)
    {
        if (rescale) it = (int)((double)it / queries * 10000);
        int[] bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
        int halvings = bounds.Count(b => it > b);
        return pInit / (1 << halvings);
    }

    /// <summary>Square side: max(round(√(p·H·W)), 1), at most min(H, W) (round half to even, as Python).</summary>
    public static int Side(float p, int h, int w) =>
        Math.Min(Math.Max((int)Math.Round(Math.Sqrt(p * h * w)), 1), Math.Min(h, w));

    public AttackResult Run(Classifier model, Tensor x, Tensor labels, uint[] sampleIds, Tensor? targets = null,
        IProgress<AttackProgress>? progress = null)
    {
        AttackChecks.Validate(this, x, labels, sampleIds, targets);
        if (x.Rank != 4) throw new ArgumentException($"square: x must be N×C×H×W, got {x.Shape}");
        if (x.Shape[1] > 32) throw new ArgumentException($"square: at most 32 channels, got {x.Shape[1]}");
        using var mode = new ModelMode(model, Config.KeepTrainingMode);
        int n = Rows.Count(x), d = Rows.Width(x);
        int[] y = labels.ToArray<int>();
        float[] x0 = x.ToArray();
        float[] logits = Objective.Logits(model, x, out int k);
        var best = new Best(n, highestLoss: false);
        var adv = (float[])x0.Clone();
        float[] margin = Margins(logits, k, y);
        int[] pred = Objective.Argmax(logits, k);
        for (int i = 0; i < n; i++) best.Offer(i, pred[i] != y[i], -margin[i]);
        for (int r = 0; r < Config.Restarts; r++)
        {
            int[] active = Rows.Where(best.Success, false);
            if (active.Length == 0) break;
            var (xBest, m, fooled) = SingleRun(model, x, x0, y, active, sampleIds, (uint)r, progress);
            for (int a = 0; a < active.Length; a++)
                if (best.Offer(active[a], fooled[a], -m[a]))
                    Array.Copy(xBest, (long)a * d, adv, (long)active[a] * d, d);
        }
        return new AttackResult(Tensor.FromArray(x.Backend, adv, x.Shape.Dims.ToArray()), best.Success, best.Loss);
    }

    private (float[] XBest, float[] Margin, bool[] Fooled) SingleRun(Classifier model, Tensor x, float[] x0All,
        int[] yAll, int[] rows, uint[] idsAll, uint stream, IProgress<AttackProgress>? progress)
    {
        int c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], d = c * h * w, n = rows.Length;
        bool l2 = Config.Norm == PgdNorm.L2;
        var x0 = new float[(long)n * d];
        var xBest = new float[(long)n * d];
        int[] y = Rows.Pick(yAll, rows);
        uint[] ids = Rows.Pick(idsAll, rows);
        for (int a = 0; a < n; a++) Array.Copy(x0All, (long)rows[a] * d, x0, (long)a * d, d);
        if (l2) SquareL2.Init(x0, xBest, n, c, h, w, Config.Eps, Config.Seed, stream, ids);
        else InitLinf(x0, xBest, n, c, h, w, ids, stream);
        float[] marginMin = Margins(Forward(model, x, xBest, n), y);
        var dims = x.Shape.Dims.ToArray();
        dims[0] = n;
        using var scratch = new Scratch();
        var x0Dev = scratch.Own(Tensor.FromArray(x.Backend, x0, dims));
        var bestDev = scratch.Own(Tensor.FromArray(x.Backend, xBest, dims));
        var candidates = scratch.Like(bestDev);
        var marginDev = scratch.Own(Tensor.FromArray(x.Backend, marginMin, n));
        var lossDev = scratch.Own(Tensor.FromArray(x.Backend, marginMin, n));
        var yDev = scratch.Own(Tensor.FromArray(x.Backend, y, n));
        var idsDev = scratch.Own(Tensor.FromArray(x.Backend, ids.Select(id => (int)id).ToArray(), n));
        var highest = scratch.Own(Tensor.Empty(x.Backend, DType.Float32, 1));
        // The query index lives on the device (SquareAccept advances it) and the side follows from it there, so every
        // query has the same arguments: one graph, captured at the second query and replayed for the others.
        var query = scratch.Own(Tensor.FromArray(x.Backend, new int[1], 1));
        var p = new SquareParams(Config.Norm, Config.Eps, 0, 0, Config.Seed, stream)
            { Schedule = new SquareSchedule(Config.PInit, Config.Queries, Config.RescaleSchedule) };
        using var graph = new Graphs.StepGraph(x.Backend, "Square query");
        for (int it = 0; it < Config.Queries; it++)
        {
            // The one read of the loop, every k queries: is any margin still > 0?
            if (it % Config.StopCheckEvery == 0)
            {
                Ops.ReduceRows(ReduceOp.Max, marginDev.View(1, n), highest);
                if (!(highest.ToArray()[0] > 0f)) break;
            }
            graph.Run(n, () =>
            {
                Ops.SquareCandidates(p, x0Dev, bestDev, marginDev, idsDev, query, candidates);
                using var tape = new Tape(x.Backend, parameterGradients: false);
                Ops.SquareAccept(DeviceEvaluation.Logits(tape, model, candidates), yDev, candidates, bestDev,
                    marginDev, lossDev, query);
            });
            progress?.Report(new AttackProgress(Name, it + 1, Config.Queries));
        }
        // A replay moves no parameter or buffer version (training-mode batch norm writes running statistics).
        if (graph.Replays > 0 && Config.KeepTrainingMode) model.MarkStateWritten();
        xBest = bestDev.ToArray();
        // Success is judged like every other attack: the predicted class at the returned point.
        float[] final = Forward(model, x, xBest, n);
        int[] pred = Objective.Argmax(final, final.Length / n);
        return (xBest, Margins(final, y), pred.Select((p, a) => p != y[a]).ToArray());
    }

    /// <summary>l-inf init: x_best = clamp(x + eps·σ, 0, 1), one sign σ per (channel, column).</summary>
    private void InitLinf(float[] x0, float[] xBest, int n, int c, int h, int w, uint[] ids, uint stream)
    {
        int d = c * h * w;
        for (int a = 0; a < n; a++)
            for (int ch = 0; ch < c; ch++)
                for (int col = 0; col < w; col++)
                {
                    uint bits = Philox.Draw(Config.Seed, stream, PurposeInit, ids[a], (uint)(ch * w + col)).X0;
                    float sign = (bits & 0x80000000u) != 0 ? 1f : -1f;
                    for (int row = 0; row < h; row++)
                    {
                        long e = (long)a * d + (ch * h + row) * w + col;
                        xBest[e] = Math.Clamp(x0[e] + Config.Eps * sign, 0f, 1f);
                    }
                }
    }

    /// <summary>l-inf query: x_best with one s×s window moved by 2·eps·σ_c, projected on the eps-ball and [0, 1].
    /// </summary>
    public static void CandidateLinf(ReadOnlySpan<float> x0, ReadOnlySpan<float> xBest, Span<float> candidate, int c,
        int h, int w, int s, float eps, ulong seed, uint id, uint stream, int it)
    {
        xBest.CopyTo(candidate);
        var r = Philox.Draw(seed, stream, PurposeStep, id, (uint)it);
        int vh = (int)(r.X0 % (uint)(h - s + 1)), vw = (int)(r.X1 % (uint)(w - s + 1));
        for (int ch = 0; ch < c; ch++)
        {
            float delta = 2f * eps * (((r.X2 >> ch) & 1u) != 0 ? 1f : -1f);
            for (int row = vh; row < vh + s; row++)
                for (int col = vw; col < vw + s; col++)
                {
                    int e = (ch * h + row) * w + col;
                    float v = MathF.Min(MathF.Max(candidate[e] + delta, x0[e] - eps), x0[e] + eps);
                    candidate[e] = Math.Clamp(v, 0f, 1f);
                }
        }
    }

    /// <summary>Logits (host) of n candidate images given on the host, shaped like x.</summary>
    private static float[] Forward(Classifier model, Tensor like, float[] images, int n)
    {
        var dims = like.Shape.Dims.ToArray();
        dims[0] = n;
        using var batch = Tensor.FromArray(like.Backend, images, dims);
        return Objective.Logits(model, batch, out _);
    }

    /// <summary>m_i = z_y − max_{j≠y} z_j per row of N×K logits.</summary>
    internal static float[] Margins(float[] logits, int[] y) => Margins(logits, logits.Length / y.Length, y);

    internal static float[] Margins(float[] logits, int k, int[] y)
    {
        var m = new float[y.Length];
        for (int i = 0; i < m.Length; i++)
        {
            float other = float.NegativeInfinity;
            for (int j = 0; j < k; j++) if (j != y[i]) other = MathF.Max(other, logits[i * k + j]);
            m[i] = logits[i * k + y[i]] - other;
        }
        return m;
    }
}
