using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// The fixed inputs of one TLA step, everything before the training forward passes. Shape letters: B batch, P pool,
/// V the rows whose pool holds an image of another class (V = B but in degenerate pools), C×H×W image. Everything a
/// step uses stays on the device; the host knows only what it drew itself (pool, positives, and from the pool's
/// labels which rows have a negative).
/// </summary>
internal sealed class TlaBatch : IDisposable
{
    /// <summary>B×C×H×W PGD anchors x'.</summary>
    public Tensor Adversarial { get; set; } = null!;

    /// <summary>B×C×H×W random same-class clean images (the "A1_Ap_B" positives).</summary>
    public Tensor Positives { get; set; } = null!;

    /// <summary>V×C×H×W mined negatives, one per row of <see cref="Rows"/>; null when V = 0.</summary>
    public Tensor? Negatives { get; set; }

    /// <summary>Int32 [V] on the device: the batch rows of <see cref="Rows"/>, which pick the anchors and positives
    /// that have a negative (a differentiable gather); null when V is B or 0.</summary>
    public Tensor? RowIndex { get; set; }

    /// <summary>The V batch rows that have a negative, ascending (known on the host from the pool's labels).</summary>
    public int[] Rows { get; set; } = [];

    /// <summary>Training-set indices: the P pool images and the B positives.</summary>
    public int[] Pool { get; set; } = [];
    public int[] PositiveIndices { get; set; } = [];

    /// <summary>Int32 [B] on the device: per batch row, the pool slot of its negative, or −1 when the pool has no
    /// image of another class.</summary>
    public Tensor NegativeIndex { get; set; } = null!;

    /// <summary><see cref="NegativeIndex"/> read to the host: for tests and diagnostics only (a device→host copy that
    /// the training step itself never makes).</summary>
    public int[] NegativeSlots => NegativeIndex.ToArray<int>();

    /// <summary>False when <see cref="Positives"/> and <see cref="RowIndex"/> are a graphed step's uploads
    /// (<see cref="DeviceStepValues.Uploads"/>), which outlive the step.</summary>
    public bool OwnsUploads { get; init; } = true;

    public void Dispose()
    {
        Adversarial?.Dispose();
        if (OwnsUploads) Positives?.Dispose();
        Negatives?.Dispose();
        if (OwnsUploads) RowIndex?.Dispose();
        NegativeIndex?.Dispose();
    }
}
