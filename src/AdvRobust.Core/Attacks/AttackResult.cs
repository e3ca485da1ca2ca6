using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// Per sample: the adversarial example (same shape as x, owned by the caller), whether it succeeds (misclassified, or
/// classified as the target for a targeted attack) and the attack's loss there (higher = stronger; for Square and FAB-T
/// the CW margin max_{j≠y} z_j − z_y).
/// </summary>
public sealed class AttackResult : IDisposable
{
    public AttackResult(Tensor adversarial, bool[] success, float[] loss)
    {
        if (success.Length != adversarial.Shape[0] || loss.Length != adversarial.Shape[0])
            throw new ArgumentException(
                $"{success.Length} flags and {loss.Length} losses for a batch of {adversarial.Shape[0]}");
        Adversarial = adversarial;
        Success = success;
        Loss = loss;
    }

    public Tensor Adversarial { get; }
    public bool[] Success { get; }
    public float[] Loss { get; }

    public int SuccessCount => Success.Count(s => s);

    public void Dispose() => Adversarial.Dispose();
}
