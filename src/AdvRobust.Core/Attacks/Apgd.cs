using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// APGD settings (Croce &amp; Hein 2020). Loss: CrossEntropy (APGD-CE), Dlr (APGD-DLR), TargetedDlr (APGD-T: one run
/// per target, the targets being the TargetClasses highest clean logits other than y), or CW.
/// </summary>
public sealed record ApgdSettings(
    PgdNorm Norm,
    float Eps,
    int Steps = 100,
    int Restarts = 1,
    AttackLossKind Loss = AttackLossKind.CrossEntropy,
    int TargetClasses = 9,
    float Rho = 0.75f,
    ulong Seed = 0,
    bool KeepTrainingMode = false);

/// <summary>
/// Auto-PGD, checked line by line against fra31/auto-attack autoattack/autopgd_base.py (APGDAttack,
/// APGDAttack_targeted). Per run, per sample:
///   x⁽⁰⁾ = clamp(x + eps·t/‖t‖, 0, 1), t uniform in the l-inf ball (Linf) or Gaussian (L2) — here the draw of
///   <see cref="Ops.PgdRandomStart"/> around 0 (same directions), rescaled to norm eps; Philox stream = run index.
///   η⁽⁰⁾ = 2·eps; z = P(x⁽ᵏ⁾ + η·sign(∇)) (L2: η·∇/(‖∇‖+1e-12));
///   x⁽ᵏ⁺¹⁾ = P(x⁽ᵏ⁾ + a(z − x⁽ᵏ⁾) + (1 − a)(x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾)) with a = 1 at the first step and 0.75 after;
///   P is the projection on the eps-ball and [0, 1] (<see cref="Ops.PgdStep"/> with a zero step).
///   Checkpoints and step halving per <see cref="ApgdSchedule"/>; a halved sample restarts from its best point x_max
///   with the gradient stored there (x⁽ᵏ⁻¹⁾ is not reset, as in the reference).
/// Only clean-correct points are attacked; restarts (and targets) run only on points not yet fooled. A sample returns
/// its first misclassified iterate (the reference keeps the last; a run stops once all its rows are fooled), else
/// its highest-loss iterate (the reference returns x itself there).
/// Confirmed against the reference: 2·eps initial step, momentum 0.75 (1 at step 0), the integer checkpoint windows,
/// the ≤ in the oscillation test, condition (2) off at the first checkpoint, restart from x_max with its gradient,
/// success = misclassification also for the targeted loss, targets = sorted clean logits at ranks 2..n_target+1.
/// Differences: the oscillation window at the first checkpoint compares against f(x⁽⁰⁾) as in the paper (the
/// reference reads loss_steps[−1], an unwritten zero row); random draws come from Philox keyed by global sample index
/// (not torch's global RNG), so results do not depend on the batch.
/// </summary>
public sealed class Apgd : IAttack
{
    public Apgd(ApgdSettings settings)
    {
        if (!(settings.Eps >= 0 && float.IsFinite(settings.Eps)))
            throw new ArgumentException($"APGD eps must be finite and >= 0, got {settings.Eps}");
        if (settings.Steps < 1 || settings.Restarts < 1 || settings.TargetClasses < 1)
            throw new ArgumentException("APGD needs steps, restarts and target classes >= 1");
        Config = settings;
    }

    public ApgdSettings Config { get; }

    public string Name => Config.Loss switch
    {
        AttackLossKind.CrossEntropy => "apgd-ce",
        AttackLossKind.Dlr => "apgd-dlr",
        AttackLossKind.TargetedDlr => "apgd-t",
        _ => "apgd-cw",
    };

    public PgdNorm Norm => Config.Norm;
    public float Eps => Config.Eps;
    public bool NeedsTargets => false;

    /// <summary>Test hook: called after each iteration with its index and the per-sample step sizes.</summary>
    internal Action<int, float[]>? OnStep { get; set; }
    public object Settings => Config;
    private bool Targeted => Config.Loss == AttackLossKind.TargetedDlr;

    public AttackResult Run(Classifier model, Tensor x, Tensor labels, uint[] sampleIds, Tensor? targets = null,
        IProgress<AttackProgress>? progress = null)
    {
        AttackChecks.Validate(this, x, labels, sampleIds, targets);
        using var mode = new ModelMode(model, Config.KeepTrainingMode);
        int n = Rows.Count(x);
        int[] y = labels.ToArray<int>();
        float[] logits = Objective.Logits(model, x, out int k);
        if (k < AttackLoss.MinClasses(Config.Loss))
            throw new ArgumentException($"{Name} needs at least {AttackLoss.MinClasses(Config.Loss)} classes, got {k}");
        int[] pred = Objective.Argmax(logits, k);
        int[][] targetSets = Targeted ? TopOtherClasses(logits, k, y, Math.Min(Config.TargetClasses, k - 1)) : [];
        var best = new Best(n, highestLoss: false);
        var adv = Rows.CopyOf(x);
        try
        {
            // Clean-misclassified points are already adversarial: x itself, with the loss there.
            using (var yT = Tensor.FromArray(x.Backend, y, n))
            using (var tT = Targeted ? Tensor.FromArray(x.Backend, targetSets[0], n) : null)
            {
                var (cleanLoss, _) = new Objective(model, Config.Loss, yT, tT).Evaluate(x);
                for (int i = 0; i < n; i++) best.Offer(i, pred[i] != y[i], cleanLoss[i]);
            }
            int runs = (Targeted ? targetSets.Length : 1) * Config.Restarts;
            for (int run = 0; run < runs; run++)
            {
                int[] active = Rows.Where(best.Success, false);
                if (active.Length == 0) break;
                using var scratch = new Scratch();
                var x0 = active.Length == n ? x : scratch.Own(Rows.Gather(x, active));
                int[] ya = Rows.Pick(y, active);
                var yT = scratch.Own(Tensor.FromArray(x.Backend, ya, active.Length));
                int[]? ta = Targeted ? Rows.Pick(targetSets[run / Config.Restarts], active) : null;
                var tT = ta is null ? null : scratch.Own(Tensor.FromArray(x.Backend, ta, active.Length));
                var objective = new Objective(model, Config.Loss, yT, tT);
                var result = SingleRun(objective, x0, ya, Rows.Pick(sampleIds, active), (uint)run, scratch,
                    progress, run * Config.Steps, runs * Config.Steps);
                var from = Enumerable.Repeat(-1, n).ToArray();
                for (int i = 0; i < active.Length; i++)
                    if (best.Offer(active[i], result.Success[i], result.Loss[i])) from[active[i]] = i;
                Rows.Merge(adv, result.X, from);
            }
            return new AttackResult(adv, best.Success, best.Loss);
        }
        catch
        {
            adv.Dispose();
            throw;
        }
    }

    /// <summary>One APGD run on the given rows: each row's first fooled iterate, else its highest-loss one.</summary>
    private (Tensor X, bool[] Success, float[] Loss) SingleRun(Objective objective, Tensor x0, int[] y, uint[] ids,
        uint stream, Scratch scratch, IProgress<AttackProgress>? progress, int done, int total)
    {
        int n = Rows.Count(x0), steps = Config.Steps;
        var xAdv = scratch.Like(x0);
        using (var delta = RandomStart.Delta(x0, Config.Norm, Config.Eps, Config.Seed, stream, ids))
        {
            float[] norms = Rows.Norms(delta, Config.Norm);
            Rows.Scale(delta, norms.Select(v => Config.Eps / (v + 1e-12f)).ToArray(), delta);
            Ops.Binary(BinaryOp.Add, x0, delta, xAdv);
            Ops.Clamp(xAdv, 0f, 1f, xAdv);
        }
        var grad = scratch.Like(x0);
        var (loss, pred) = objective.Evaluate(xAdv, grad);

        var output = new Best(n, highestLoss: false);
        var xOut = scratch.CopyOf(xAdv);
        var success = Objective.Success(pred, y, null);
        for (int i = 0; i < n; i++) output.Offer(i, success[i], loss[i]);

        var xBest = scratch.CopyOf(xAdv);
        var gradBest = scratch.CopyOf(grad);
        float[] lossBest = (float[])loss.Clone(), bestAtCheck = (float[])loss.Clone();
        var history = new float[n][];
        for (int i = 0; i < n; i++) (history[i] = new float[steps + 1])[0] = loss[i];
        bool[] halvedLast = Enumerable.Repeat(true, n).ToArray();
        float[] step = Enumerable.Repeat(2f * Config.Eps, n).ToArray();

        var xOld = scratch.CopyOf(xAdv);
        var momentum = scratch.Like(x0);
        var z = scratch.Like(x0);
        var zero = scratch.Zeros(x0);
        var project = new PgdParams(Alpha: 0f, Eps: Config.Eps);
        int window = ApgdSchedule.FirstWindow(steps), counter = 0;
        for (int it = 0; it < steps; it++)
        {
            float a = it > 0 ? 0.75f : 1f;
            Ops.Binary(BinaryOp.Sub, xAdv, xOld, momentum);
            Ops.Copy(xAdv, xOld);
            if (Config.Norm == PgdNorm.Linf)
            {
                Ops.Unary(UnaryOp.Sign, grad, z);
                Rows.Scale(z, step, z);
            }
            else
            {
                float[] gn = Rows.Norms(grad, PgdNorm.L2);
                Rows.Scale(grad, step.Select((s, i) => s / (gn[i] + 1e-12f)).ToArray(), z);
            }
            Ops.Binary(BinaryOp.Add, xAdv, z, z);
            Ops.PgdStep(Config.Norm, z, x0, zero, project);
            Ops.Binary(BinaryOp.Sub, z, xAdv, z);
            Ops.Axpby(1f - a, momentum, a, z);
            Ops.Binary(BinaryOp.Add, xAdv, z, xAdv);
            Ops.PgdStep(Config.Norm, xAdv, x0, zero, project);

            (loss, pred) = objective.Evaluate(xAdv, grad);
            success = Objective.Success(pred, y, null);
            var take = new bool[n];
            var improved = new bool[n];
            for (int i = 0; i < n; i++)
            {
                take[i] = output.Offer(i, success[i], loss[i]);
                history[i][it + 1] = loss[i];
                improved[i] = loss[i] > lossBest[i];
                if (improved[i]) lossBest[i] = loss[i];
            }
            Rows.Select(xOut, xAdv, take);
            Rows.Select(xBest, xAdv, improved);
            Rows.Select(gradBest, grad, improved);
            progress?.Report(new AttackProgress(Name, done + it + 1, total));
            // A sample's first success is final, so once every row has one the rest of the run changes nothing.
            if (output.Success.All(v => v)) break;

            if (++counter < window)
            {
                OnStep?.Invoke(it, (float[])step.Clone());
                continue;
            }
            var halve = new bool[n];
            for (int i = 0; i < n; i++)
            {
                bool osc = ApgdSchedule.Oscillates(history[i], it + 1, window, Config.Rho);
                halve[i] = ApgdSchedule.Halve(osc, halvedLast[i], bestAtCheck[i], lossBest[i]);
                if (halve[i]) step[i] /= 2f;
            }
            halvedLast = halve;
            bestAtCheck = (float[])lossBest.Clone();
            Rows.Select(xAdv, xBest, halve);
            Rows.Select(grad, gradBest, halve);
            window = ApgdSchedule.NextWindow(window, steps);
            counter = 0;
            OnStep?.Invoke(it, (float[])step.Clone());
        }
        return (xOut, output.Success, output.Loss);
    }

    /// <summary>sets[r][i]: the class with the (r+1)-th highest clean logit of sample i other than y_i (ties: lower
    /// index first).</summary>
    internal static int[][] TopOtherClasses(float[] logits, int k, int[] y, int count)
    {
        int n = y.Length;
        var sets = new int[count][];
        for (int r = 0; r < count; r++) sets[r] = new int[n];
        for (int i = 0; i < n; i++)
        {
            int row = i;
            var order = Enumerable.Range(0, k).Where(j => j != y[row])
                .OrderByDescending(j => logits[row * k + j]).ThenBy(j => j).ToArray();
            for (int r = 0; r < count; r++) sets[r][i] = order[r];
        }
        return sets;
    }
}
