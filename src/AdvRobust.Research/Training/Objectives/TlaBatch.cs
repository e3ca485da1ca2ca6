using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// The fixed inputs of one TLA step, everything before the training forward passes. Shape letters: B batch, P pool,
/// V the rows whose pool holds an image of another class (V = B but in degenerate pools), C×H×W image.
/// </summary>
internal sealed class TlaBatch : IDisposable
{
    /// <summary>B×C×H×W PGD anchors x'.</summary>
    public Tensor Adversarial { get; set; } = null!;

    /// <summary>B×C×H×W random same-class clean images (the "A1_Ap_B" positives).</summary>
    public Tensor Positives { get; set; } = null!;

    /// <summary>V×C×H×W mined negatives, one per row of <see cref="Rows"/>; null when V = 0.</summary>
    public Tensor? Negatives { get; set; }

    /// <summary>V×B one-hot rows that pick the anchors and positives of <see cref="Rows"/>; null when V is B or 0.
    /// </summary>
    public Tensor? RowSelection { get; set; }

    /// <summary>The V batch rows that have a negative, ascending.</summary>
    public int[] Rows { get; set; } = [];

    /// <summary>Training-set indices: the P pool images and the B positives.</summary>
    public int[] Pool { get; set; } = [];
    public int[] PositiveIndices { get; set; } = [];

    /// <summary>Per batch row, the pool slot of its negative, or −1 when the pool has no image of another class.
    /// </summary>
    public int[] NegativeSlots { get; set; } = [];

    public void Dispose()
    {
        Adversarial?.Dispose();
        Positives?.Dispose();
        Negatives?.Dispose();
        RowSelection?.Dispose();
    }
}
