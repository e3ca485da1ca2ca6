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
/// On resume, <see cref="KeepEpochs"/> drops the lines of epochs after the checkpoint (they are recomputed),
/// rewriting the file atomically.
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

    /// <summary>Every line, parsed; none when the file does not exist.</summary>
    public IReadOnlyList<EpochMetrics> Read() => Lines().Select(l => l.Metrics).ToList();

    /// <summary>Keeps the lines of epochs 1..<paramref name="epochs"/> only.</summary>
    public void KeepEpochs(int epochs)
    {
        if (!File.Exists(Path)) return;
        var kept = Lines().Where(l => l.Metrics.Epoch <= epochs).Select(l => l.Text).ToList();
        AdvRobust.Core.Serialization.AtomicFile.Write(Path, stream =>
        {
            foreach (string line in kept) stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
        });
    }

    private List<(string Text, EpochMetrics Metrics)> Lines()
    {
        var lines = new List<(string, EpochMetrics)>();
        if (!File.Exists(Path)) return lines;
        int number = 0;
        foreach (string line in File.ReadLines(Path))
        {
            number++;
            if (line.Length == 0) continue;
            try
            {
                lines.Add((line, JsonSerializer.Deserialize<EpochMetrics>(line, EpochMetrics.Compact)
                    ?? throw new JsonException("null line")));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{Path}: line {number} is not an epoch record: {e.Message}", e);
            }
        }
        return lines;
    }
}
