using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// PGD settings (Madry et al. 2018). Each step is <see cref="Ops.PgdStep"/>: x ← clip(Proj_eps(x + alpha·sign(g)))
/// for Linf, x + alpha·g/‖g‖₂ for L2, with g the gradient of the per-sample loss (targeted: −CE or −CW to the
/// target). Restart r starts from clamp(x + δ_r, 0, 1), δ_r uniform in the eps-ball from Philox stream r keyed by the
/// global sample index, or from x itself when RandomStart is off (then there is one run: restarts would repeat it).
/// KeepHighestLoss = false (evaluation): each sample keeps its first successful iterate over steps and restarts, else
/// its highest-loss iterate, and restarts after the first attack only the samples not yet fooled.
/// KeepHighestLoss = true (adversarial training): each sample keeps its highest-loss iterate, fooled or not.
/// </summary>
public sealed record PgdSettings(
    PgdNorm Norm,
    float Eps,
    float Alpha,
    int Steps,
    bool RandomStart = true,
    int Restarts = 1,
    AttackLossKind Loss = AttackLossKind.CrossEntropy,
    bool Targeted = false,
    bool KeepHighestLoss = false,
    ulong Seed = 0,
    bool KeepTrainingMode = false);

/// <summary>Projected gradient descent on the attack loss, with restarts that keep each sample's worst case.</summary>
public sealed class Pgd : IAttack
{
    public Pgd(PgdSettings settings)
    {
        if (!(settings.Eps >= 0 && float.IsFinite(settings.Eps)))
            throw new ArgumentException($"PGD eps must be finite and >= 0, got {settings.Eps}");
        if (!(settings.Alpha >= 0 && float.IsFinite(settings.Alpha)))
            throw new ArgumentException($"PGD alpha must be finite and >= 0, got {settings.Alpha}");
        if (settings.Steps < 0 || settings.Restarts < 1)
            throw new ArgumentException(
                $"PGD needs steps >= 0 and restarts >= 1, got {settings.Steps} and {settings.Restarts}");
        if (settings.Loss is AttackLossKind.Dlr or AttackLossKind.TargetedDlr)
            throw new ArgumentException("PGD takes the CE or CW loss; DLR losses belong to APGD");
        Config = settings;
    }

    public PgdSettings Config { get; }

    /// <summary>
    /// Steps between reads of the all-fooled flag (4 bytes, the only read inside a run). Results do not depend on
    /// it: once every sample has succeeded the Best rule takes nothing more, so later steps change nothing. It is
    /// therefore an execution setting, not part of <see cref="Settings"/>.
    /// </summary>
    public int EarlyStopEvery
    {
        get => _earlyStopEvery;
        init => _earlyStopEvery = value >= 1 ? value : throw new ArgumentException($"EarlyStopEvery {value} < 1");
    }

    private readonly int _earlyStopEvery = AttackDefaults.EarlyStopEvery;

    public string Name => $"pgd-{(Config.Norm == PgdNorm.Linf ? "linf" : "l2")}{(Config.Targeted ? "-targeted" : "")}";
    public PgdNorm Norm => Config.Norm;
    public float Eps => Config.Eps;
    public bool NeedsTargets => Config.Targeted;
    public object Settings => Config;

    public AttackResult Run(Classifier model, Tensor x, Tensor labels, uint[] sampleIds, Tensor? targets = null,
        IProgress<AttackProgress>? progress = null)
    {
        AttackChecks.Validate(this, x, labels, sampleIds, targets);
        using var mode = new ModelMode(model, Config.KeepTrainingMode);
        int n = Rows.Count(x);
        int[] y = labels.ToArray<int>();
        int[]? t = Config.Targeted ? targets!.ToArray<int>() : null;
        var best = new Best(n, Config.KeepHighestLoss);
        var adv = Rows.CopyOf(x);
        try
        {
            for (int r = 0; r < Config.Restarts; r++)
            {
                int[] active = r == 0 || Config.KeepHighestLoss
                    ? Enumerable.Range(0, n).ToArray()
                    : Rows.Where(best.Success, false);
                // Without a random start every restart would repeat the first run exactly.
                if (active.Length == 0 || (r > 0 && !Config.RandomStart)) break;
                using var scratch = new Scratch();
                bool all = active.Length == n;
                var x0 = all ? x : scratch.Own(Rows.Gather(x, active));
                var yT = all ? labels : scratch.Own(Tensor.FromArray(x.Backend, Rows.Pick(y, active), active.Length));
                var tT = t is null || all ? targets
                    : scratch.Own(Tensor.FromArray(x.Backend, Rows.Pick(t, active), active.Length));
                var objective = new Objective(model, Config.Loss, yT, tT);
                var run = scratch.Own(SingleRun(objective, x0, Rows.Pick(sampleIds, active), (uint)r, scratch,
                    progress));
                // The restart boundary: this run's flags and losses come to the host once, to merge.
                bool[] success = run.ReadSuccess();
                float[] loss = run.Loss.ToArray();
                var from = Enumerable.Repeat(-1, n).ToArray();
                for (int i = 0; i < active.Length; i++)
                    if (best.Offer(active[i], success[i], loss[i])) from[active[i]] = i;
                Rows.Merge(adv, run.X!, from);
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
    /// The adversarial batch of a single untargeted run (Restarts = 1), left on the device: no read and no upload, for
    /// training, which uses neither the success flags nor the losses. The same iterates as <see cref="Run"/>.
    /// </summary>
    /// <param name="start">When set, the random start draws with this device key and these device ids instead of
    /// (Config.Seed, <paramref name="sampleIds"/>): the same draws for the same values, with no host work, so that a
    /// captured training step replays with each step's key.</param>
    public Tensor RunOnDevice(Classifier model, Tensor x, Tensor labels, uint[] sampleIds, DeviceStart? start = null)
    {
        AttackChecks.Validate(this, x, labels, sampleIds, null);
        if (Config.Restarts != 1 || Config.Targeted)
            throw new InvalidOperationException("RunOnDevice makes one untargeted run; use Run for restarts or targets");
        using var mode = new ModelMode(model, Config.KeepTrainingMode);
        using var scratch = new Scratch();
        using var run = SingleRun(new Objective(model, Config.Loss, labels, null), x, sampleIds, 0, scratch, null,
            start);
        return Rows.CopyOf(run.X!);
    }

    /// <summary>One run from x0: every step's bookkeeping stays on the device (no read but the every-k flag).</summary>
    private BestState SingleRun(Objective objective, Tensor x0, uint[] ids, uint stream, Scratch scratch,
        IProgress<AttackProgress>? progress, DeviceStart? start = null)
    {
        var xAdv = scratch.Like(x0);
        if (Config.RandomStart && start is not null) RandomStart.Uniform(xAdv, x0, Config.Norm, Config.Eps, start);
        else if (Config.RandomStart) RandomStart.Uniform(xAdv, x0, Config.Norm, Config.Eps, Config.Seed, stream, ids);
        else Ops.Copy(x0, xAdv);
        var grad = scratch.Like(x0);
        var best = new BestState(x0.Backend, Rows.Count(x0), like: x0);
        // Steps 1..Steps−1 (update, then pass and bookkeeping at the new point): one graph, same buffers and arguments.
        using var graph = new Graphs.StepGraph(x0.Backend, "PGD step");
        try
        {
            var track = new Objective.Track(best, Config.Targeted ? objective.Targets : null, Config.KeepHighestLoss);
            var step = new PgdParams(Config.Alpha, Config.Eps);
            for (int s = 0; s <= Config.Steps; s++)
            {
                bool last = s == Config.Steps;
                if (s == 0) objective.Pass(xAdv, last ? null : grad, track);
                else
                    graph.Run((Rows.Count(x0), last), () =>
                    {
                        Ops.PgdStep(Config.Norm, xAdv, x0, grad, step);
                        objective.Pass(xAdv, last ? null : grad, track);
                    });
                progress?.Report(new AttackProgress(Name, s, Config.Steps));
                if (last || (!Config.KeepHighestLoss && (s + 1) % EarlyStopEvery == 0 && best.AllSucceeded())) break;
            }
            // A replay moves no parameter or buffer version (training-mode batch norm writes running statistics).
            if (graph.Replays > 0 && Config.KeepTrainingMode) objective.Model.MarkStateWritten();
            return best;
        }
        catch
        {
            best.Dispose();
            throw;
        }
    }
}
