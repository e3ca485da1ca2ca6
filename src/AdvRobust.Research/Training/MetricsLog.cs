using System.Text;
using System.Text.Json;

namespace AdvRobust.Research.Training;

/// <summary>
/// One line of metrics.jsonl, written when an epoch ends. <see cref="Epoch"/> counts from 1; <see cref="Step"/> is
/// the number of optimizer steps taken so far and <see cref="Lr"/> the learning rate of the epoch's last step. The
/// training figures are averages over the epoch's examples of what the objective reported (the loss and its
/// components, and the accuracy of the forward pass the loss was computed on); the evaluation figures are on the
/// fixed evaluation subset. <see cref="Best"/> marks the epoch that best.safetensors now holds. Only the fields in
/// <see cref="TimingFields"/> differ between two runs with the same config and seed on the CPU.
/// </summary>
public sealed record EpochMetrics(
    int Epoch,
    long Step,
    double Lr,
    double TrainLoss,
    IReadOnlyDictionary<string, double> TrainComponents,
    double TrainAccuracy,
    int TrainImages,
    double CleanAccuracy,
    double PgdAccuracy,
    int EvalImages,
    bool Best,
    double EpochSeconds,
    double TrainSeconds,
    double EvalSeconds,
    double ImagesPerSecond)
{
    /// <summary>The JSON names of the wall-clock fields, the only ones a resumed or repeated run may change.</summary>
    public static IReadOnlyList<string> TimingFields { get; } =
        ["epochSeconds", "trainSeconds", "evalSeconds", "imagesPerSecond"];

    /// <summary>One line of JSON (doubles round-trip exactly).</summary>
    public string ToJsonLine() => JsonSerializer.Serialize(this, Compact);

    internal static readonly JsonSerializerOptions Compact = new(ConfigSchema.Options) { WriteIndented = false };
}

/// <summary>
/// metrics.jsonl: appended one line per epoch and flushed to disk, so a crash loses at most the epoch in progress.
/// A kill during an append can leave a torn last line (no newline, the start of a JSON object but not a whole one):
/// reading skips it and reports
/// it in <see cref="TornTail"/>, as certify does with its JSONL; a bad line before the last one is an error naming the
/// file and line. On resume, <see cref="KeepEpochs"/> drops the lines of epochs after the checkpoint (they are
/// recomputed) and any torn tail, rewriting the file atomically.
/// </summary>
public sealed class MetricsLog
{
    public MetricsLog(string path) => Path = path;

    public string Path { get; }

    public void Append(EpochMetrics metrics)
    {
        using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        byte[] line = Encoding.UTF8.GetBytes(metrics.ToJsonLine() + "\n");
        stream.Write(line);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Every whole line, parsed; none when the file does not exist. A torn last line is left out.</summary>
    public IReadOnlyList<EpochMetrics> Read() => Parse().Lines.Select(l => l.Metrics).ToList();

    /// <summary>The torn last line (its text) when the file ends in one, else null.</summary>
    public string? TornTail => Parse().Torn;

    /// <summary>Keeps the lines of epochs 1..<paramref name="epochs"/> only, dropping a torn last line too; returns
    /// the epochs of the lines dropped and the torn line (null when there was none).</summary>
    public (IReadOnlyList<int> DroppedEpochs, string? Torn) KeepEpochs(int epochs)
    {
        if (!File.Exists(Path)) return ([], null);
        var (lines, torn) = Parse();
        var kept = lines.Where(l => l.Metrics.Epoch <= epochs).Select(l => l.Text).ToList();
        var dropped = lines.Where(l => l.Metrics.Epoch > epochs).Select(l => l.Metrics.Epoch).ToList();
        // Rewritten also when the last line, whole, lacks its newline: the next append must start a line of its own.
        string text = File.ReadAllText(Path);
        if (dropped.Count == 0 && torn is null && (text.Length == 0 || text.EndsWith('\n'))) return ([], null);
        AdvRobust.Core.Serialization.AtomicFile.Write(Path, stream =>
        {
            foreach (string line in kept) stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
        });
        return (dropped, torn);
    }

    private (List<(string Text, EpochMetrics Metrics)> Lines, string? Torn) Parse()
    {
        var lines = new List<(string, EpochMetrics)>();
        if (!File.Exists(Path)) return (lines, null);
        string text = File.ReadAllText(Path);
        string[] parts = text.Split('\n');
        string? torn = null;
        for (int i = 0; i < parts.Length; i++)
        {
            string line = parts[i].TrimEnd('\r');
            if (line.Trim('\0', ' ', '\t').Length == 0) continue;
            // No newline after it and the start of a JSON object: an append cut short.
            bool last = i == parts.Length - 1 && line.TrimStart().StartsWith('{');
            try
            {
                lines.Add((line, JsonSerializer.Deserialize<EpochMetrics>(line, EpochMetrics.Compact)
                    ?? throw new JsonException("null line")));
            }
            catch (JsonException) when (last)
            {
                torn = line;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{Path}: line {i + 1} is not an epoch record: {e.Message}", e);
            }
        }
        return (lines, torn);
    }
}
