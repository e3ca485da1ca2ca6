namespace AdvRobust.Core.Optim;

/// <summary>
/// A learning rate per optimizer iteration t = 0, 1, 2, ... (iterations, not epochs: an epoch-based schedule passes
/// epoch·iterationsPerEpoch). Formulas are evaluated in double and returned as float.
/// </summary>
public abstract class LrSchedule
{
    /// <summary>The learning rate of iteration <paramref name="iteration"/> (0-based).</summary>
    public abstract float At(long iteration);

    /// <summary>lr(t) = lr.</summary>
    public static LrSchedule Constant(float lr) => new ConstantLr(lr);

    /// <summary>lr(t) = baseLr · gamma^(number of milestones ≤ t): PyTorch's MultiStepLR, in iterations.</summary>
    public static LrSchedule Step(float baseLr, IReadOnlyList<long> milestones, float gamma) =>
        new StepLr(baseLr, milestones, gamma);

    /// <summary>lr(t) = etaMin + (baseLr − etaMin)·(1 + cos(π·t/T))/2 for t ≤ T, and etaMin after T: the closed
    /// form of PyTorch's CosineAnnealingLR stepped per iteration (which would climb back after T; this stays at
    /// etaMin).</summary>
    public static LrSchedule Cosine(float baseLr, long totalIterations, float etaMin = 0f) =>
        new CosineLr(baseLr, totalIterations, etaMin);

    /// <summary>Linear warm-up in front of this schedule: lr(t) = inner(0)·(t + 1)/W for t &lt; W, reaching inner(0) at
    /// t = W − 1; then lr(t) = inner(t − W), so the inner schedule runs its whole course after the warm-up.</summary>
    public LrSchedule WithWarmup(long warmupIterations) => new WarmupLr(this, warmupIterations);

    private protected static void CheckRate(float lr, string what)
    {
        if (!float.IsFinite(lr) || lr < 0)
            throw new ArgumentException($"{what} must be finite and non-negative, got {lr}");
    }

    private protected static void CheckIteration(long t)
    {
        if (t < 0) throw new ArgumentOutOfRangeException(nameof(t), t, "iterations count from 0");
    }

    private sealed class ConstantLr : LrSchedule
    {
        private readonly float _lr;

        public ConstantLr(float lr)
        {
            CheckRate(lr, "learning rate");
            _lr = lr;
        }

        public override float At(long iteration)
        {
            CheckIteration(iteration);
            return _lr;
        }
    }

    private sealed class StepLr : LrSchedule
    {
        private readonly float _baseLr;
        private readonly long[] _milestones;
        private readonly float _gamma;

        public StepLr(float baseLr, IReadOnlyList<long> milestones, float gamma)
        {
            CheckRate(baseLr, "base learning rate");
            CheckRate(gamma, "gamma");
            ArgumentNullException.ThrowIfNull(milestones);
            for (int i = 0; i < milestones.Count; i++)
                if (milestones[i] < 0 || (i > 0 && milestones[i] < milestones[i - 1]))
                    throw new ArgumentException(
                        $"milestones must be non-negative and ascending, got [{string.Join(", ", milestones)}]");
            (_baseLr, _milestones, _gamma) = (baseLr, milestones.ToArray(), gamma);
        }

        public override float At(long iteration)
        {
            CheckIteration(iteration);
            int passed = _milestones.Count(m => m <= iteration);
            return (float)(_baseLr * Math.Pow(_gamma, passed));
        }
    }

    private sealed class CosineLr : LrSchedule
    {
        private readonly float _baseLr;
        private readonly long _total;
        private readonly float _etaMin;

        public CosineLr(float baseLr, long total, float etaMin)
        {
            CheckRate(baseLr, "base learning rate");
            CheckRate(etaMin, "eta_min");
            if (total < 1) throw new ArgumentException($"a cosine schedule needs at least one iteration, got {total}");
            (_baseLr, _total, _etaMin) = (baseLr, total, etaMin);
        }

        public override float At(long iteration)
        {
            CheckIteration(iteration);
            if (iteration >= _total) return _etaMin;
            return (float)(_etaMin + (_baseLr - (double)_etaMin) * (1 + Math.Cos(Math.PI * iteration / _total)) / 2);
        }
    }

    private sealed class WarmupLr : LrSchedule
    {
        private readonly LrSchedule _inner;
        private readonly long _warmup;

        public WarmupLr(LrSchedule inner, long warmup)
        {
            if (warmup < 1) throw new ArgumentException($"warm-up needs at least one iteration, got {warmup}");
            (_inner, _warmup) = (inner, warmup);
        }

        public override float At(long iteration)
        {
            CheckIteration(iteration);
            return iteration < _warmup
                ? (float)(_inner.At(0) * (double)(iteration + 1) / _warmup)
                : _inner.At(iteration - _warmup);
        }
    }
}
