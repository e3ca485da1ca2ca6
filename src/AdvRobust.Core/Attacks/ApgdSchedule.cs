namespace AdvRobust.Core.Attacks;

/// <summary>
/// The step-size schedule of APGD (Croce &amp; Hein 2020, Sec. 3.2), as autoattack/autopgd_base.py runs it.
/// Checkpoints w_j = ⌈p_j·N_iter⌉ with p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06); in the
/// reference's integer form the first window is k = max(⌊0.22·N⌋, 1) iterations and each next window is
/// k ← max(k − max(⌊0.03·N⌋, 1), max(⌊0.06·N⌋, 1)). At a checkpoint a sample's step is halved (and it restarts from
/// its best point, with the gradient stored there) when
///   (1) the loss increased in at most ρ·k of the last k steps: #{i : f(x⁽ⁱ⁺¹⁾) > f(x⁽ⁱ⁾)} ≤ ρ·k (ρ = 0.75), or
///   (2) its step was not halved at the previous checkpoint and its best loss has not improved since then.
/// The reference tests (1) with ≤ (the paper writes &lt;); we follow the code.
/// Apgd runs this on the device (<see cref="Ops.ApgdSchedule"/>): it counts each step's rise as it happens and
/// resets the count at a checkpoint, which over a window equals <see cref="Oscillates"/> on the loss history.
/// </summary>
public static class ApgdSchedule
{
    /// <summary>The 0-based iterations ending in a checkpoint: 21, 40, 56, 69, 79, 86, 92, 98 for N = 100.</summary>
    public static int[] Checkpoints(int steps)
    {
        var result = new List<int>();
        int k = FirstWindow(steps), counter = 0;
        for (int i = 0; i < steps; i++)
        {
            if (++counter != k) continue;
            result.Add(i);
            k = NextWindow(k, steps);
            counter = 0;
        }
        return [.. result];
    }

    public static int FirstWindow(int steps) => Math.Max((int)(0.22 * steps), 1);

    public static int NextWindow(int k, int steps) =>
        Math.Max(k - Math.Max((int)(0.03 * steps), 1), Math.Max((int)(0.06 * steps), 1));

    /// <summary>
    /// Condition (1) for one sample: <paramref name="history"/>[j] = f(x⁽ʲ⁾), j = 0..i+1, the loss at each iterate
    /// (j = 0 the starting point); the window is the last k steps ending at iterate i + 1.
    /// </summary>
    public static bool Oscillates(ReadOnlySpan<float> history, int lastIterate, int k, float rho)
    {
        int increases = 0;
        for (int c = 0; c < k; c++)
            if (history[lastIterate - c] > history[lastIterate - c - 1]) increases++;
        return increases <= k * rho;
    }

    /// <summary>Conditions (1) or (2): whether a sample's step is halved at this checkpoint.</summary>
    public static bool Halve(bool oscillates, bool halvedLastCheckpoint, float bestAtLastCheckpoint, float best) =>
        oscillates || (!halvedLastCheckpoint && bestAtLastCheckpoint >= best);
}
