using System.Runtime.InteropServices;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// FAB-T settings (Croce &amp; Hein 2020), AutoAttack's standard values: 100 steps, 1 restart, the 9 highest other
/// classes as targets, α_max = 0.1, η = 1.05, β = 0.9. Eps is only the success threshold (and the radius of the
/// random start on later restarts): FAB minimizes the perturbation rather than searching inside the eps-ball.
/// </summary>
public sealed record FabSettings(
    PgdNorm Norm,
    float Eps,
    int Steps = 100,
    int Restarts = 1,
    int TargetClasses = 9,
    float AlphaMax = 0.1f,
    float Eta = 1.05f,
    float Beta = 0.9f,
    ulong Seed = 0,
    bool KeepTrainingMode = false);

/// <summary>
/// Targeted Fast Adaptive Boundary attack (FAB-T), checked against fra31/auto-attack autoattack/fab_base.py and
/// fab_pt.py (FABAttack_PT with targeted = True: attack_single_run with is_targeted, perturb,
/// get_diff_logits_grads_batch_targeted). Shape letters: x N×C×H×W (any N×...) seen as N rows of D pixels.
/// Per run (one target class t, the (r+1)-th highest clean logit other than y, r = 0..TargetClasses−1) and per sample,
/// starting from x⁽⁰⁾ = x (restart 0) or x⁽⁰⁾ = clamp(x + (eps/2)·u/‖u‖, 0, 1) (later restarts; u uniform in [−1, 1]^D
/// for Linf, Gaussian for L2), for Steps iterations:
///   linearise f = z_t − z_y at x⁽ᵏ⁾: f(x') ≈ f(x⁽ᵏ⁾) + w·(x' − x⁽ᵏ⁾), w = ∇ₓf(x⁽ᵏ⁾) (one forward and one backward
///   pass), so the approximate boundary is the hyperplane w·x' = b with b = w·x⁽ᵏ⁾ − f(x⁽ᵏ⁾);
///   project both x⁽ᵏ⁾ and the original point x onto that hyperplane ∩ [0, 1]^D (<see cref="FabProjection"/>):
///   d₁ = P(x⁽ᵏ⁾) − x⁽ᵏ⁾, d₂ = P(x) − x, the smallest such steps in the attack's norm;
///   bias toward x: α = min(max(a₁/(a₁ + a₂), 0), α_max) with a_i = max(‖d_i‖, 1e-8), and extrapolate past the
///   hyperplane by η: x⁽ᵏ⁺¹⁾ = clamp((1 − α)(x⁽ᵏ⁾ + η·d₁) + α(x + η·d₂), 0, 1);
///   if x⁽ᵏ⁺¹⁾ is misclassified (predicted class ≠ y, not necessarily t): keep it when ‖x⁽ᵏ⁺¹⁾ − x‖ is the smallest
///   so far, then step back toward x: x⁽ᵏ⁺¹⁾ ← x + β(x⁽ᵏ⁺¹⁾ − x).
/// A run's result is its smallest misclassified iterate; as in the reference's perturb, it fools the sample only if
/// its norm is ≤ eps (and the model, asked again, misclassifies it). Only clean-correct points are attacked; each run
/// (targets in rank order, restarts within a target) attacks only the points not yet fooled. A sample returns its
/// fooling point, else x itself (also as the reference); the reported loss is the CW margin max_{j≠y} z_j − z_y there,
/// and success is judged at the returned point: misclassified, within eps and in [0, 1].
/// Each step stays on the device (<see cref="Ops.FabStep"/>, <see cref="Ops.FabAccept"/>: kernels/fab.cu, with the
/// CPU twins <see cref="Step(PgdNorm, float, float, Span{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, float,
/// FabProjection.Workspace)"/> and <see cref="Accept"/>); the host reads the run's result once, after its last step.
/// Differences from the reference: the projections and the step bookkeeping run in double (the reference runs them
/// in float32; the CPU sorts the breakpoints, the GPU bisects), with forward/backward passes through the engine; f's
/// gradient is
/// that of Σ_i Σ_k s_ik·z_ik with s = e_t − e_y (the same per-row gradient as the reference's summed z_t − z_y);
/// the random start draws from Philox keyed by the global sample index (<see cref="PurposeStart"/>, stream = run
/// index, element = pixel), not torch's global RNG, so results do not depend on the batch; with fewer than
/// TargetClasses + 1 classes the runs use the K − 1 other classes (the reference's target index would run past K).
/// </summary>
public sealed class Fab : IAttack
{
    public const uint PurposeStart = Philox.PurposeFabStart;

    public Fab(FabSettings settings)
    {
        if (!(settings.Eps >= 0 && float.IsFinite(settings.Eps)))
            throw new ArgumentException($"FAB eps must be finite and >= 0, got {settings.Eps}");
        if (settings.Steps < 1 || settings.Restarts < 1 || settings.TargetClasses < 1)
            throw new ArgumentException("FAB needs steps, restarts and target classes >= 1");
        if (!(settings.AlphaMax is >= 0f and <= 1f) || !(settings.Beta is >= 0f and <= 1f) ||
            !(settings.Eta > 0f && float.IsFinite(settings.Eta)))
            throw new ArgumentException("FAB needs alpha_max and beta in [0, 1] and a finite eta > 0");
        Config = settings;
    }

    public FabSettings Config { get; }
    public string Name => "fab-t";
    public PgdNorm Norm => Config.Norm;
    public float Eps => Config.Eps;
    public bool NeedsTargets => false;
    public object Settings => Config;

    public AttackResult Run(Classifier model, Tensor x, Tensor labels, uint[] sampleIds, Tensor? targets = null,
        IProgress<AttackProgress>? progress = null)
    {
        AttackChecks.Validate(this, x, labels, sampleIds, targets);
        using var mode = new ModelMode(model, Config.KeepTrainingMode);
        int n = Rows.Count(x), d = Rows.Width(x);
        int[] y = labels.ToArray<int>();
        float[] x0 = x.ToArray();
        float[] logits = Objective.Logits(model, x, out int k);
        if (k < 2) throw new ArgumentException($"{Name} needs at least 2 classes, got {k}");
        int[] clean = Objective.Argmax(logits, k);
        int[][] targetSets = Apgd.TopOtherClasses(logits, k, y, Math.Min(Config.TargetClasses, k - 1));
        var adv = (float[])x0.Clone();
        // Clean-misclassified points are already adversarial: x itself.
        bool[] fooled = clean.Select((p, i) => p != y[i]).ToArray();
        int runs = targetSets.Length * Config.Restarts;
        for (int run = 0; run < runs; run++)
        {
            int[] active = Rows.Where(fooled, false);
            if (active.Length == 0) break;
            int restart = run % Config.Restarts;
            var found = SingleRun(model, x, k, x0, y, targetSets[run / Config.Restarts], active, sampleIds,
                (uint)run, restart > 0, progress, run * Config.Steps, runs * Config.Steps);
            // perturb(): a run's point counts only when the model misclassifies it and it lies within eps.
            int[] within = Enumerable.Range(0, active.Length).Where(a => found.Norm[a] <= Config.Eps).ToArray();
            if (within.Length == 0) continue;
            var candidates = new float[(long)within.Length * d];
            for (int c = 0; c < within.Length; c++)
                Array.Copy(found.X, (long)within[c] * d, candidates, (long)c * d, d);
            int[] pred = Predict(model, x, candidates, within.Length);
            for (int c = 0; c < within.Length; c++)
            {
                int i = active[within[c]];
                if (pred[c] == y[i]) continue;
                fooled[i] = true;
                Array.Copy(candidates, (long)c * d, adv, (long)i * d, d);
            }
        }
        // Success is judged like every other attack: the prediction at the returned point, inside the ball and box.
        var result = Tensor.FromArray(x.Backend, adv, x.Shape.Dims.ToArray());
        try
        {
            float[] final = Objective.Logits(model, result, out _);
            int[] pred = Objective.Argmax(final, k);
            float[] margin = Square.Margins(final, k, y);
            var success = new bool[n];
            for (int i = 0; i < n; i++)
                success[i] = pred[i] != y[i] && Distance(adv, x0, i, d, Config.Norm) <= Config.Eps &&
                             InBox(adv, i, d);
            return new AttackResult(result, success, margin.Select(m => -m).ToArray());
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One FAB-T run on the given rows toward their targets: per row, the misclassified iterate of smallest norm
    /// (rows of X; x itself where none) and that norm (+∞ where none).
    /// </summary>
    private (float[] X, double[] Norm) SingleRun(Classifier model, Tensor like, int k, float[] x0All, int[] yAll,
        int[] targetAll, int[] rows, uint[] idsAll, uint stream, bool randomStart, IProgress<AttackProgress>? progress,
        int done, int total)
    {
        int n = rows.Length, d = Rows.Width(like);
        var x0 = new float[(long)n * d];
        for (int a = 0; a < n; a++) Array.Copy(x0All, (long)rows[a] * d, x0, (long)a * d, d);
        int[] y = Rows.Pick(yAll, rows), t = Rows.Pick(targetAll, rows);
        uint[] ids = Rows.Pick(idsAll, rows);
        var x1 = (float[])x0.Clone();
        if (randomStart)
            for (int a = 0; a < n; a++)
            {
                float[] delta = StartDelta(Config.Norm, Config.Eps, Config.Seed, stream, ids[a], d);
                for (int e = 0; e < d; e++)
                {
                    long i = (long)a * d + e;
                    x1[i] = Math.Clamp(x0[i] + delta[e], 0f, 1f);
                }
            }
        var dims = like.Shape.Dims.ToArray();
        dims[0] = n;
        using var scratch = new Scratch();
        var xDev = scratch.Own(Tensor.FromArray(like.Backend, x1, dims));
        var x0Dev = scratch.Own(Tensor.FromArray(like.Backend, x0, dims));
        var bestDev = scratch.Own(Tensor.FromArray(like.Backend, x0, dims));
        // N doubles (+∞: none yet) as 2N floats: the engine has no Float64 dtype.
        double[] noNorm = Enumerable.Repeat(double.PositiveInfinity, n).ToArray();
        var bestNormDev = scratch.Own(Tensor.FromArray(like.Backend,
            MemoryMarshal.Cast<double, float>(noNorm).ToArray(), 2 * n));
        var yDev = scratch.Own(Tensor.FromArray(like.Backend, y, n));
        var tDev = scratch.Own(Tensor.FromArray(like.Backend, t, n));
        var sign = new float[(long)n * k];
        for (int a = 0; a < n; a++)
        {
            sign[a * k + t[a]] = 1f;
            sign[a * k + y[a]] = -1f;
        }
        var signDev = scratch.Own(Tensor.FromArray(like.Backend, sign, n, k));
        var p = new FabParams(Config.Norm, Config.AlphaMax, Config.Eta, Config.Beta);

        // Each step stays on the device: f = z_t − z_y and its input gradient (the gradient of Σ_i Σ_k s_ik·z_ik,
        // s = e_t − e_y), both projections and the move (FabStep), then the prediction at the new point and the
        // bookkeeping of the smallest misclassified iterate (FabAccept); same buffers and arguments: one graph per run.
        using var graph = new Graphs.StepGraph(like.Backend, "FAB-T step");
        for (int it = 0; it < Config.Steps; it++)
        {
            graph.Run(n, () =>
            {
                using (var tape = new Tape(like.Backend, parameterGradients: false))
                {
                    var (logits, grad) = DeviceEvaluation.LogitsAndGradient(tape, model, xDev,
                        z => F.Sum(tape, F.Mul(tape, z, tape.Constant(signDev))));
                    Ops.FabStep(p, xDev, x0Dev, grad, logits, yDev, tDev);
                }
                using (var tape = new Tape(like.Backend, parameterGradients: false))
                    Ops.FabAccept(p, xDev, x0Dev, DeviceEvaluation.Logits(tape, model, xDev), yDev, bestDev,
                        bestNormDev);
            });
            progress?.Report(new AttackProgress(Name, done + it + 1, total));
        }
        if (graph.Replays > 0 && Config.KeepTrainingMode) model.MarkStateWritten();
        float[] bestNormBits = bestNormDev.ToArray();
        return (bestDev.ToArray(), MemoryMarshal.Cast<float, double>(bestNormBits).ToArray());
    }

    /// <summary>
    /// One FAB step of one row in place: project x1 and x0 onto the linearised boundary f(x1) + w·(x' − x1) = 0
    /// within [0, 1]^D, then move to the α-weighted combination of the two projections extrapolated by η.
    /// </summary>
    internal static void Step(FabSettings config, Span<float> x1, ReadOnlySpan<float> x0, ReadOnlySpan<float> w,
        float f) =>
        Step(config.Norm, config.AlphaMax, config.Eta, x1, x0, w, f, new FabProjection.Workspace(x1.Length));

    /// <summary>As above with caller-owned scratch: the CPU twin of kernels/fab.cu fab_step_f32 (one row).</summary>
    public static void Step(PgdNorm norm, float alphaMax, float eta, Span<float> x1, ReadOnlySpan<float> x0,
        ReadOnlySpan<float> w, float f, FabProjection.Workspace ws)
    {
        int d = x1.Length;
        double b = -f;
        for (int e = 0; e < d; e++) b += (double)w[e] * x1[e];
        Span<double> d1 = ws.D1.AsSpan(0, d), d2 = ws.D2.AsSpan(0, d);
        FabProjection.Project(norm, x1, w, b, d1, ws);
        FabProjection.Project(norm, x0, w, b, d2, ws);
        double a1 = Math.Max(Length(d1, norm), 1e-8), a2 = Math.Max(Length(d2, norm), 1e-8);
        double alpha = Math.Min(Math.Max(a1 / (a1 + a2), 0), alphaMax), etaD = eta;
        for (int e = 0; e < d; e++)
        {
            double v = (x1[e] + etaD * d1[e]) * (1 - alpha) + (x0[e] + etaD * d2[e]) * alpha;
            x1[e] = (float)Math.Clamp(v, 0.0, 1.0);
        }
    }

    /// <summary>
    /// The CPU twin of kernels/fab.cu fab_accept_f32 for one row: when <paramref name="pred"/> ≠ <paramref name="y"/>,
    /// keeps x1 in best where ‖x1 − x0‖ (double) is below bestNorm, then steps x1 back: x1 ← x0 + β(x1 − x0).
    /// </summary>
    public static void Accept(PgdNorm norm, float beta, int pred, int y, Span<float> x1, ReadOnlySpan<float> x0,
        Span<float> best, ref double bestNorm)
    {
        if (pred == y) return;
        double s = 0;
        for (int e = 0; e < x1.Length; e++)
        {
            double diff = (double)x1[e] - x0[e];
            s = norm == PgdNorm.Linf ? Math.Max(s, Math.Abs(diff)) : s + diff * diff;
        }
        double distance = norm == PgdNorm.Linf ? s : Math.Sqrt(s);
        if (distance < bestNorm)
        {
            bestNorm = distance;
            x1.CopyTo(best);
        }
        for (int e = 0; e < x1.Length; e++) x1[e] = x0[e] + (x1[e] - x0[e]) * beta;
    }

    /// <summary>
    /// The random start of a later restart: δ = (eps/2)·u/‖u‖ for one sample (before clamping to [0, 1]), with u
    /// uniform in [−1, 1]^D (Linf) or standard normal (L2), element e from Philox(seed; e, sample, stream,
    /// <see cref="PurposeStart"/>).
    /// </summary>
    internal static float[] StartDelta(PgdNorm norm, float eps, ulong seed, uint stream, uint sample, int d)
    {
        var u = new double[d];
        for (int e = 0; e < d; e++)
        {
            var r = Philox.Draw(seed, stream, PurposeStart, sample, (uint)e);
            u[e] = norm == PgdNorm.Linf ? 2.0 * Philox.Uniform(r.X0) - 1.0 : Philox.Normal(r.X0, r.X1);
        }
        double scale = 0.5 * eps / Math.Max(Length(u, norm), 1e-12);
        return u.Select(v => (float)(v * scale)).ToArray();
    }

    /// <summary>Predicted classes of n images given on the host, shaped like x.</summary>
    private static int[] Predict(Classifier model, Tensor like, float[] images, int n)
    {
        var dims = like.Shape.Dims.ToArray();
        dims[0] = n;
        using var batch = Tensor.FromArray(like.Backend, images, dims);
        float[] logits = Objective.Logits(model, batch, out int k);
        return Objective.Argmax(logits, k);
    }

    /// <summary>‖v‖ in the given norm.</summary>
    private static double Length(ReadOnlySpan<double> v, PgdNorm norm)
    {
        double s = 0;
        foreach (double e in v) s = norm == PgdNorm.Linf ? Math.Max(s, Math.Abs(e)) : s + e * e;
        return norm == PgdNorm.Linf ? s : Math.Sqrt(s);
    }

    /// <summary>‖a[i] − b[i]‖ of row i (D values) in double.</summary>
    private static double Distance(float[] a, float[] b, int i, int d, PgdNorm norm)
    {
        double s = 0;
        for (long e = (long)i * d; e < (long)(i + 1) * d; e++)
        {
            double diff = (double)a[e] - b[e];
            s = norm == PgdNorm.Linf ? Math.Max(s, Math.Abs(diff)) : s + diff * diff;
        }
        return norm == PgdNorm.Linf ? s : Math.Sqrt(s);
    }

    private static bool InBox(float[] a, int i, int d)
    {
        for (long e = (long)i * d; e < (long)(i + 1) * d; e++)
            if (!(a[e] >= 0f && a[e] <= 1f)) return false;
        return true;
    }
}
