using AdvRobust.Core.Random;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// The random draws of the training objectives. Each step has its own Philox key, derived from (run seed, step) by one
/// Philox block, and every draw of the step is keyed by that step key plus a purpose and a sample index. So a draw is a
/// pure function of (seed, step, sample id): a resumed run repeats it exactly, the same sample in another batch gets
/// the same draw, and the next step draws afresh. PGD's random start uses the step key as its seed (purposes 0 and 1,
/// stream = restart); the purposes below are the objectives' own, numbered from 16 so that they stay clear of the
/// engine-wide ones listed in <see cref="Philox"/> (0–6) should that list grow.
/// </summary>
internal static class StepRandom
{
    /// <summary>Deriving the step key from the run seed (sample = step low word, element = step high word).</summary>
    public const uint PurposeStepKey = 16;

    /// <summary>TRADES' start x + 0.001·N(0,1): sample = global sample id, element = pixel.</summary>
    public const uint PurposeTradesNoise = 17;

    /// <summary>TLA's random same-class positive: sample = global sample id, element = attempt.</summary>
    public const uint PurposeTlaPositive = 18;

    /// <summary>TLA's negative pool: sample = pool slot, element = attempt.</summary>
    public const uint PurposeTlaPool = 19;

    public static ulong StepKey(ulong seed, long step)
    {
        if (step < 0)
            throw new ArgumentOutOfRangeException(nameof(step), $"the training step must be >= 0, got {step}");
        var (x0, x1, _, _) = Philox.Draw(seed, 0, PurposeStepKey, (uint)step, (uint)((ulong)step >> 32));
        return x0 | (ulong)x1 << 32;
    }

    /// <summary>
    /// A uniform integer in [0, <paramref name="bound"/>) by Lemire's multiply-and-reject, which is exactly uniform:
    /// the words of Philox.Draw(key, 0, purpose, sample, attempt) are tried in turn, and the attempt counter moves on
    /// only in the rare case that all four are rejected.
    /// </summary>
    public static int UniformBelow(int bound, ulong key, uint purpose, uint sample)
    {
        if (bound < 1) throw new ArgumentOutOfRangeException(nameof(bound), $"bound must be >= 1, got {bound}");
        uint b = (uint)bound, threshold = (0u - b) % b;
        for (uint attempt = 0; ; attempt++)
        {
            var (x0, x1, x2, x3) = Philox.Draw(key, 0, purpose, sample, attempt);
            foreach (uint x in (ReadOnlySpan<uint>)[x0, x1, x2, x3])
            {
                ulong m = (ulong)x * b;
                if ((uint)m >= threshold) return (int)(m >> 32);
            }
        }
    }

    /// <summary>A standard normal for element <paramref name="element"/> of sample <paramref name="sample"/>.</summary>
    public static float Normal(ulong key, uint purpose, uint sample, uint element)
    {
        var (x0, x1, _, _) = Philox.Draw(key, 0, purpose, sample, element);
        return Philox.Normal(x0, x1);
    }
}
