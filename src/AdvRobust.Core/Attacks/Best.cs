namespace AdvRobust.Core.Attacks;

/// <summary>
/// Each sample's worst case so far. Rule (KeepHighestLoss off): a success beats a failure, the first success is kept,
/// and among failures the higher loss wins (ties keep the earlier). KeepHighestLoss on: the higher loss wins.
/// </summary>
internal sealed class Best
{
    private readonly bool _highestLoss;
    private readonly bool[] _set;

    public Best(int n, bool highestLoss)
    {
        _highestLoss = highestLoss;
        _set = new bool[n];
        Success = new bool[n];
        Loss = new float[n];
    }

    public bool[] Success { get; }
    public float[] Loss { get; }

    /// <summary>Offers a candidate for sample i; true (and recorded) when it becomes the sample's worst case.</summary>
    public bool Offer(int i, bool success, float loss)
    {
        bool better = !_set[i] || (_highestLoss
            ? loss > Loss[i]
            : (success && !Success[i]) || (!success && !Success[i] && loss > Loss[i]));
        if (!better) return false;
        (_set[i], Success[i], Loss[i]) = (true, success, loss);
        return true;
    }
}
