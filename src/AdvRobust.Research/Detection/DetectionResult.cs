using System.Text.Json;
using System.Text.Json.Serialization;
using AdvRobust.Core.Attacks;

namespace AdvRobust.Research.Detection;

/// <summary>
/// What <see cref="AdversarialDetection"/> measured: the k-NN detector's setup (k, reference and test sizes), the
/// model's clean accuracy and one <see cref="AttackDetection"/> per attack. Written by `advrobust detect --json` and
/// as detection.json by `detect --out`, read back by `advrobust report`.
/// </summary>
public sealed record DetectionResult(
    string Model,
    string Device,
    int K,
    int ReferenceSamples,
    int TestSamples,
    int CleanCorrect,
    double CleanAccuracy,
    IReadOnlyList<AttackDetection> Attacks,
    double TotalSeconds)
{
    /// <summary>Indented JSON, enums by name, ±∞ written as "Infinity" (the first ROC threshold is +∞).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses <see cref="ToJson"/>'s output; <paramref name="source"/> names the file in errors.</summary>
    public static DetectionResult FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<DetectionResult>(json, JsonOptions)
                ?? throw new InvalidDataException($"{source}: the file holds null, not a detection result");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"{source} line {(e.LineNumber ?? 0) + 1}: not a detection result: {e.Message}", e);
        }
    }
}

/// <summary>
/// The detector against one attack run on every test sample, in two framings, each null when one of its classes is
/// empty (e.g. an attack that fools nothing):
/// <list type="bullet">
/// <item><see cref="CleanVsAdversarial"/>: negatives = the clean test inputs the model classifies correctly
/// (<see cref="CleanCorrect"/>), positives = the adversarial examples made from them that fool it
/// (<see cref="Fooled"/>). This is the usual adversarial-example detection benchmark.</item>
/// <item><see cref="MisclassifiedVsCorrect"/> (papers.md §1.6, the TLA poster's ROC): every test input under the
/// attack; positives = misclassified there (<see cref="Misclassified"/>), negatives = still classified correctly.
/// </item>
/// </list>
/// <see cref="AdversarialAccuracy"/> is the accuracy on the attacked inputs. Settings is the attack's exact
/// settings record (with its seed).
/// </summary>
public sealed record AttackDetection(
    string Name,
    PgdNorm Norm,
    float Eps,
    object Settings,
    int Samples,
    int CleanCorrect,
    int Fooled,
    int Misclassified,
    double AdversarialAccuracy,
    RocCurve? CleanVsAdversarial,
    RocCurve? MisclassifiedVsCorrect,
    double Seconds);

/// <summary>One progress report: Done of Total images in a stage ("reference", "clean", or an attack's name).</summary>
public readonly record struct DetectionProgress(string Stage, int Done, int Total);
