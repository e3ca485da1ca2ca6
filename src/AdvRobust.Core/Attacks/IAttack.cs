using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// An evasion attack on a <see cref="Classifier"/> in [0, 1] pixel space. Shape letters: x is N×C×H×W (any N×...),
/// labels N (Int32). Row s of x is the global sample <c>sampleIds[s]</c>: every random draw of the attack is keyed by
/// that index (Philox, see <c>Random/Philox.cs</c>), so the result for a sample does not depend on the batch it is
/// in. Attacks run the model in eval mode (restored afterwards) unless their settings say otherwise, never compute a
/// weight gradient (<c>new Tape(backend, parameterGradients: false)</c>) and free every intermediate.
/// </summary>
public interface IAttack
{
    /// <summary>Short name for reports, e.g. "apgd-ce", "apgd-t", "square", "pgd-linf".</summary>
    string Name { get; }

    PgdNorm Norm { get; }
    float Eps { get; }

    /// <summary>True when success means "predicted class = the given target" rather than "≠ label".</summary>
    bool NeedsTargets { get; }

    /// <summary>The exact settings (a record that serializes to JSON), for result files.</summary>
    object Settings { get; }

    /// <summary>
    /// Attacks x (labels y, optional targets). The returned adversarial batch is owned by the caller.
    /// <paramref name="sampleIds"/> holds one global sample index per row (see <see cref="SampleIds"/>).
    /// </summary>
    AttackResult Run(Classifier model, Tensor x, Tensor labels, uint[] sampleIds, Tensor? targets = null,
        IProgress<AttackProgress>? progress = null);
}

/// <summary>One attack's progress on one batch: Done of Total steps or queries.</summary>
public readonly record struct AttackProgress(string Attack, int Done, int Total);
