using AdvRobust.Cli.Commands;
using AdvRobust.Distributed;

namespace AdvRobust.Tests.Distributed;

/// <summary>A data-parallel split that would leave a rank a step of no rows is refused before training, the same way
/// on every rank (each checks the same numbers, no collective is involved).</summary>
public class ShardRefusalTests
{
    [TestCase(16, 64, true)]
    [TestCase(16, 66, true)] // the short last batch of 2 is dropped
    [TestCase(16, 67, false)] // a last batch of 3: one or two rows per rank
    public void SplitsWithRowsForEveryRankPass(int batch, int images, bool dropLast) =>
        Assert.DoesNotThrow(() => TrainRanks.CheckShards(batch, images, dropLast, new Ranks(3)));

    [Test]
    public void AGlobalBatchSmallerThanTheWorldIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => TrainRanks.CheckShards(2, 64, true, new Ranks(3)));
        Assert.That(e!.Message, Does.Contain("a step of 2 images (batchSize) cannot be split over 3 ranks"));
    }

    [Test]
    public void AShortLastBatchSmallerThanTheWorldIsRefusedUnlessDropped()
    {
        var e = Assert.Throws<ArgumentException>(() => TrainRanks.CheckShards(16, 65, false, new Ranks(2)));
        Assert.That(e!.Message, Does.Contain("a step of 1 image (the last, short batch").And.Contain("data.dropLast"));
        Assert.DoesNotThrow(() => TrainRanks.CheckShards(16, 65, true, new Ranks(2)));
        Assert.DoesNotThrow(() => TrainRanks.CheckShards(1, 65, false, SingleProcess.Instance));
    }

    /// <summary>Rank 0 of <paramref name="size"/>, with no collective (the check must need none).</summary>
    private sealed class Ranks(int size) : ICommunicator
    {
        public int Rank => 0;
        public int Size => size;
        public string Describe() => $"rank 0 of {size} (test)";
        public void AllReduceSum<T>(Span<T> data) where T : unmanaged => throw new InvalidOperationException();
        public void AllReduceMax<T>(Span<T> data) where T : unmanaged => throw new InvalidOperationException();
        public ReduceRequest BeginAllReduceSum(float[] pinned, int offset, int count) => throw new InvalidOperationException();
        public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged => throw new InvalidOperationException();
        public T[][]? Gather<T>(ReadOnlySpan<T> mine, int root = 0) where T : unmanaged => throw new InvalidOperationException();
        public void Barrier() => throw new InvalidOperationException();
        public void Abort(int exitCode) => throw new InvalidOperationException();
    }
}
