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

    /// <summary>Steps between reads of a run's all-fooled flag; results do not depend on it (see
    /// <see cref="Pgd.EarlyStopEvery"/>).</summary>
    public int EarlyStopEvery
    {
        get => _earlyStopEvery;
        init => _earlyStopEvery = value >= 1 ? value : throw new ArgumentException($"EarlyStopEvery {value} < 1");
    }

    private readonly int _earlyStopEvery = AttackDefaults.EarlyStopEvery;

    /// <summary>Test hook: called after each iteration with its index and the per-sample step sizes (read from the
    /// device only when a hook is set).</summary>
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
                var (cleanLoss, _) = new Objective(model, Config.Loss, yT, tT).Measure(x, null);
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
                var result = scratch.Own(SingleRun(objective, x0, Rows.Pick(sampleIds, active), (uint)run, scratch,
                    progress, run * Config.Steps, runs * Config.Steps));
                // The restart boundary: this run's flags and losses come to the host once, to merge.
                bool[] success = result.ReadSuccess();
                float[] loss = result.Loss.ToArray();
                var from = Enumerable.Repeat(-1, n).ToArray();
                for (int i = 0; i < active.Length; i++)
                    if (best.Offer(active[i], success[i], loss[i])) from[active[i]] = i;
                Rows.Merge(adv, result.X!, from);
            }
            return new AttackResult(adv, best.Success, best.Loss);
        }
        catch
        {
            adv.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One APGD run on the given rows: each row's first fooled iterate, else its highest-loss one. The step, the
    /// bookkeeping and the schedule run on the device (<see cref="Ops.ApgdStep"/>, <see cref="Ops.AttackTrack"/>,
    /// <see cref="Ops.ApgdSchedule"/>); inside the loop only the every-k all-fooled flag is read.
    /// </summary>
    private BestState SingleRun(Objective objective, Tensor x0, uint[] ids, uint stream, Scratch scratch,
        IProgress<AttackProgress>? progress, int done, int total)
    {
        int n = Rows.Count(x0), steps = Config.Steps;
        var backend = x0.Backend;
        var xAdv = scratch.Like(x0);
        // The random start: its per-row norms are read once per run, at the run's boundary.
        using (var delta = RandomStart.Delta(x0, Config.Norm, Config.Eps, Config.Seed, stream, ids))
        {
            float[] norms = Rows.Norms(delta, Config.Norm);
            Rows.Scale(delta, norms.Select(v => Config.Eps / (v + 1e-12f)).ToArray(), delta);
            Ops.Binary(BinaryOp.Add, x0, delta, xAdv);
            Ops.Clamp(xAdv, 0f, 1f, xAdv);
        }
        var grad = scratch.Like(x0);
        var output = new BestState(backend, n, like: x0);
        using var graph = new Graphs.StepGraph(backend, "APGD step");
        try
        {
            var track = new Objective.Track(output, SuccessTargets: null, KeepHighestLoss: false);
            objective.Pass(xAdv, grad, track);
            var state = scratch.Own(new ApgdState(backend, x0));
            Ops.Copy(xAdv, state.XBest);
            Ops.Copy(grad, state.GradBest);
            Ops.Copy(xAdv, state.XOld);
            foreach (var t in new[] { state.LossBest, state.BestAtCheck, state.LossPrev }) Ops.Copy(output.Current, t);
            Ops.Fill(state.Step, 2f * Config.Eps);
            Ops.Fill(state.HalvedLast, 1f);
            backend.Fill(state.Increases, 0f); // the bits of Int32 0

            int window = ApgdSchedule.FirstWindow(steps), counter = 0;
            // One graph per kernel-argument key (first iteration; window of the checkpoint, 0: none, window unread).
            for (int it = 0; it < steps; it++)
            {
                bool checkpoint = ++counter == window;
                var schedule = new ApgdScheduleParams(checkpoint, window, Config.Rho);
                graph.Run((n, it == 0, checkpoint ? window : 0), () =>
                {
                    Ops.ApgdStep(Config.Norm, Config.Eps, it > 0 ? 0.75f : 1f, xAdv, x0, grad, state);
                    objective.Pass(xAdv, grad, track);
                    Ops.ApgdSchedule(schedule, output.Current, xAdv, grad, state);
                });
                if (checkpoint)
                {
                    window = ApgdSchedule.NextWindow(window, steps);
                    counter = 0;
                }
                progress?.Report(new AttackProgress(Name, done + it + 1, total));
                OnStep?.Invoke(it, state.Step.ToArray());
                // A sample's first success is final, so once every row has one the rest of the run changes nothing.
                if ((it + 1) % EarlyStopEvery == 0 && output.AllSucceeded()) break;
            }
            if (graph.Replays > 0 && Config.KeepTrainingMode) objective.Model.MarkStateWritten();  // as in Pgd
            return output;
        }
        catch
        {
            output.Dispose();
            throw;
        }
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
