using AdvRobust.Distributed;

namespace AdvRobust.Tests.Distributed;

/// <summary>The fixed-order gradient sum (--deterministic over MPI ranks) and the GPU a rank takes.</summary>
public class FixedOrderTests
{
    [Test]
    public void SumInOrderAddsLeftToRightWhateverTheValues()
    {
        // (1e8 + -1e8) + 1 = 1, while 1e8 + (-1e8 + 1) = 0 in float: the order is visible in the bits
        float[] ranks = [1e8f, 0.1f, 3f, -1e8f, 0.2f, 4f, 1f, 0.3f, 5f];
        var sum = new float[3];
        GradientAllReduce.SumInOrder(ranks, 3, sum);
        Assert.That(sum[0], Is.EqualTo(1f));
        Assert.That(BitConverter.SingleToInt32Bits(sum[1]), Is.EqualTo(BitConverter.SingleToInt32Bits((0.1f + 0.2f) + 0.3f)));
        Assert.That(sum[2], Is.EqualTo(12f));
        Assert.That(ranks[..3], Is.EqualTo(new[] { 1e8f, 0.1f, 3f }), "the gathered buffers are left as they are");
    }

    [Test]
    public void SumInOrderOfOneRankIsItsValues()
    {
        var sum = new float[2];
        GradientAllReduce.SumInOrder([-0f, 2.5f], 1, sum);
        Assert.That(BitConverter.SingleToInt32Bits(sum[0]), Is.EqualTo(BitConverter.SingleToInt32Bits(-0f)));
        Assert.That(sum[1], Is.EqualTo(2.5f));
    }

    [TestCase(0, 8, 0)]
    [TestCase(5, 8, 5)]
    [TestCase(9, 8, 1)]
    [TestCase(3, 1, 0)]
    public void RanksTakeTheirNodesDevicesRoundRobin(int localRank, int devices, int device) =>
        Assert.That(World.DeviceFor(localRank, devices), Is.EqualTo(device));

    [Test]
    public void NoDeviceIsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => World.DeviceFor(0, 0));
}
