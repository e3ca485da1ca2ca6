using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Cpu;
using AdvRobust.Distributed;
using AdvRobust.Distributed.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Distributed;

/// <summary>The pieces of scale-out that need no second process: how items are split, the single-process world, the
/// shard evaluation that sharded eval is built on, and the replica hash.</summary>
public class ShardTests
{
    [TestCase(10, 3)]
    [TestCase(7, 7)]
    [TestCase(3, 5)]
    [TestCase(0, 2)]
    [TestCase(257, 8)]
    public void ShardsCoverEveryItemOnceInRankOrder(int n, int size)
    {
        int next = 0;
        for (int r = 0; r < size; r++)
        {
            var (start, count) = Shards.Of(n, r, size);
            Assert.That(start, Is.EqualTo(next), $"rank {r}");
            Assert.That(count, Is.InRange(n / size, n / size + 1));
            next += count;
        }
        Assert.That(next, Is.EqualTo(n));
    }

    [Test]
    public void SingleProcessCollectivesLeaveDataAsItIs()
    {
        ICommunicator world = SingleProcess.Instance;
        float[] data = [1.5f, -2f];
        world.AllReduceSum<float>(data);
        world.Broadcast<float>(data);
        world.BeginAllReduceSum(data, 0, 2).Wait();
        Assert.That(data, Is.EqualTo(new[] { 1.5f, -2f }));
        Assert.That(world.Gather<float>(data), Is.EqualTo(new[] { new[] { 1.5f, -2f } }));
        Assert.That((world.Rank, world.Size, world.IsRoot), Is.EqualTo((0, 1, true)));
        Assert.Throws<ArgumentOutOfRangeException>(() => world.Broadcast<float>(data, root: 1));
    }

    [Test]
    public void WithoutALauncherTheWorldIsOneProcessAndLibmpiIsNotNeeded()
    {
        if (World.LaunchedSize != 1) Assert.Ignore("this test process was started by an MPI launcher");
        Assert.That(World.Current, Is.SameAs(SingleProcess.Instance));
        Assert.That(World.IsDistributed, Is.False);
    }

    [Test]
    public void MissingOpenMpiMessageSaysWhatToInstall()
    {
        Assert.That(MpiLibrary.HowToGet, Does.Contain("apt-get install openmpi-bin libopenmpi3"));
        Assert.That(MpiLibrary.Candidates[0], Is.EqualTo("libmpi.so.40"));
    }

    /// <summary>Two shards of a robust evaluation (each sample under its global index, other batch cuts) add up to the
    /// whole: the same per-sample flags and the same counts, for an attack with random starts and restarts.</summary>
    [Test]
    public void ShardEvaluationsAddUpToTheWholeRun()
    {
        using var model = ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.5f], [0.5f], 3);
        var rng = new SeededRandom(nameof(ShardEvaluationsAddUpToTheWholeRun));
        int n = 13;
        var images = new LabeledImages(n, 1, 28, 28, rng.Uniform(n * 784, 0, 1),
            Enumerable.Range(0, n).Select(i => i % 10).ToArray(), 10, "random");
        var pgd = new Pgd(new PgdSettings(PgdNorm.Linf, 0.3f, 0.1f, 3, RandomStart: true, Restarts: 2, Seed: 5));
        var whole = new RobustEvaluation([pgd], batchSize: 4).Run(model, images);
        var first = new RobustEvaluation([pgd], batchSize: 3).Run(model, images, 0, 6);
        var second = new RobustEvaluation([pgd], batchSize: 5).Run(model, images, 6, 7);
        Assert.That(first.CleanCorrect + second.CleanCorrect, Is.EqualTo(whole.CleanCorrect));
        Assert.That(first.RobustCorrect + second.RobustCorrect, Is.EqualTo(whole.RobustCorrect));
        Assert.That(first.Attacks[0].Fooled + second.Attacks[0].Fooled, Is.EqualTo(whole.Attacks[0].Fooled));
        Assert.That(first.Attacks[0].Attacked + second.Attacks[0].Attacked, Is.EqualTo(whole.Attacks[0].Attacked));
        for (int i = 0; i < n; i++)
            Assert.That(i < 6 ? first.Robust[i] : second.Robust[i], Is.EqualTo(whole.Robust[i]), $"sample {i}");
        Assert.That(first.Robust.Skip(6), Is.All.False);
        Assert.That(whole.Attacks[0].Fooled, Is.Positive, "the attack fools some point, so the flags are not trivial");
        Assert.That(ShardedEvaluation.Run(new RobustEvaluation([pgd], 4), model, images, SingleProcess.Instance).Robust,
            Is.EqualTo(whole.Robust));
    }

    [Test]
    public void ReplicaHashSeesOneBitAndNoTensor()
    {
        using var a = AdvRobust.Core.Tensors.Tensor.FromArray(CpuBackend.Instance, new[] { 1f, 2f, 3f }, 3);
        using var b = AdvRobust.Core.Tensors.Tensor.FromArray(CpuBackend.Instance,
            new[] { 1f, BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(2f) ^ 1), 3f }, 3);
        Assert.That(ReplicaState.Hash(a), Is.Not.EqualTo(ReplicaState.Hash(b)));
        Assert.That(ReplicaState.Hash(a), Is.EqualTo(ReplicaState.Hash(a)));
        Assert.That(ReplicaState.Hash(null), Is.Zero);
    }
}
