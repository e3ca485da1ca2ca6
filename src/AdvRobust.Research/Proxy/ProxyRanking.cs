using System.Text.Encodings.Web;
using System.Text.Json;
using AdvRobust.Core.Data;

namespace AdvRobust.Research.Proxy;

/// <summary>One proxy set's discrimination curve and its ARC (<see cref="Arc"/>: advantage over chance, the
/// ranking key) and raw-accuracy area.</summary>
public sealed record ProxyScore(string Name, string? Source, int Images, double Arc, double RawArc,
    IReadOnlyList<DiscriminationPoint> Points);

/// <summary>What a ranking run reports while it works: which set (1-based of Sets) and its training progress.</summary>
public readonly record struct RankingProgress(string Set, int Index, int Sets, DiscriminationProgress Step);

/// <summary>
/// Proxy sets ranked by ARC, closest to the real data (lowest ARC) first, with everything needed to reproduce the
/// run: the real data, the ε grid, how many images per side trained and tested each discriminator, the seed and the
/// discriminator settings. Every set is compared on the same real images (picked by the seed alone).
/// </summary>
public sealed record ProxyRanking(string Real, IReadOnlyList<double> Eps, int TrainPerSide, int TestPerSide,
    ulong Seed, string Device, DiscriminatorSettings Settings, IReadOnlyList<ProxyScore> Ranked)
{
    // Relaxed escaping keeps each set's JSON "source" readable inside the file (quotes as \", not \u0022).
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// A ranking's ε grid: l-inf budgets in [0, 1] (pixel units), strictly increasing (<see cref="Arc.CheckGrid"/>),
    /// and at least two of them: ARC is an area under accuracy against ε, and one budget has none (it would rank every
    /// set by one accuracy and call it an area).
    /// </summary>
    public static void CheckGrid(IReadOnlyList<double> eps)
    {
        static string Invariant(double e) => e.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Arc.CheckGrid(eps);
        if (eps.Count < 2)
            throw new ArgumentException($"--eps: ranking by ARC needs at least two budgets (an area under accuracy " +
                $"against ε), got {eps.Count}: {string.Join(",", eps.Select(Invariant))}; e.g. --eps 0,0.02,0.05,0.1");
        for (int i = 0; i < eps.Count; i++)
            if (eps[i] > 1)
                throw new ArgumentException(
                    $"--eps: budget {Invariant(eps[i])} is above 1; l-inf budgets are in [0, 1] pixel units");
    }

    public static ProxyRanking Rank(LabeledImages real, IReadOnlyList<ProxySet> sets, IReadOnlyList<double> eps,
        int trainPerSide, int testPerSide, RobustDiscrimination discrimination,
        IProgress<RankingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(real);
        ArgumentNullException.ThrowIfNull(sets);
        ArgumentNullException.ThrowIfNull(discrimination);
        if (sets.Count == 0) throw new ArgumentException("no proxy sets to rank");
        CheckGrid(eps);
        // Build every split first: a set that is too small or mis-shaped fails before hours of training.
        var data = sets.Select(s => DiscriminationData.Create(real, s, trainPerSide, testPerSide, discrimination.Seed))
            .ToArray();
        var scores = new List<ProxyScore>();
        for (int i = 0; i < sets.Count; i++)
        {
            var set = sets[i];
            int index = i + 1;
            var inner = progress is null ? null : new SyncProgress<DiscriminationProgress>(
                p => progress.Report(new RankingProgress(set.Name, index, sets.Count, p)));
            var points = discrimination.Curve(data[i], eps, inner);
            var accuracies = points.Select(p => p.Accuracy).ToArray();
            scores.Add(new ProxyScore(set.Name, set.Source, set.N, Arc.FromAccuracies(eps, accuracies),
                Arc.RawArea(eps, accuracies), points));
        }
        var ranked = scores.OrderBy(s => s.Arc).ThenBy(s => s.RawArc).ThenBy(s => s.Name, StringComparer.Ordinal)
            .ToArray();
        return new ProxyRanking(real.Source, eps.ToArray(), trainPerSide, testPerSide, discrimination.Seed,
            discrimination.Backend.Name, discrimination.Settings, ranked);
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}

