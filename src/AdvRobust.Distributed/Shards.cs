namespace AdvRobust.Distributed;

/// <summary>How a list of items is split over the ranks: contiguous blocks, the first <c>n mod K</c> ranks one item
/// longer, so every item has exactly one rank and the rank order is the item order.</summary>
public static class Shards
{
    /// <summary>Rank <paramref name="rank"/>'s block of <paramref name="n"/> items over <paramref name="size"/> ranks.</summary>
    public static (int Start, int Count) Of(int n, int rank, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (size < 1 || rank < 0 || rank >= size) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {size}");
        int q = n / size, r = n % size;
        return (rank * q + Math.Min(rank, r), q + (rank < r ? 1 : 0));
    }

    public static (int Start, int Count) Of(int n, ICommunicator world) => Of(n, world.Rank, world.Size);
}
