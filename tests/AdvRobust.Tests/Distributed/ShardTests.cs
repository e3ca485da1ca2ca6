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

/// <summary>The replica check seen from rank 1 of 2, with rank 0 played by a second model: one changed weight is named.</summary>
public class ReplicaCheckTests
{
    [Test]
    public void ADivergedTensorIsNamedWithTheRankThatHoldsIt()
    {
        using var mine = ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.5f], [0.5f], 3);
        using var root = ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.5f], [0.5f], 3);
        var rank1 = new RankOneOfTwo(Hashes(root));
        new ReplicaState(rank1, mine).Check(step: 7); // identical replicas pass

        var weight = mine.NamedParameters().Single(p => p.Name == "conv2.weight").Parameter.Value;
        float[] values = weight.ToArray();
        values[5] += 1e-3f;
        weight.Backend.CopyIn<float>(weight.Storage, values);
        var e = Assert.Throws<ReplicaDivergedException>(() => new ReplicaState(rank1, mine).Check(step: 8))!;
        Assert.That(e.Message, Does.Contain("after step 8, 'conv2.weight' on rank(s) 1 differs from rank 0's")
            .And.Contain("1 of "));
    }

    /// <summary>Rank 0's hashes in ReplicaState's order: each parameter, its momentum (none yet), then the buffers.</summary>
    private static ulong[] Hashes(ImageClassifier model) =>
    [
        .. model.NamedParameters().SelectMany(p => new[] { ReplicaState.Hash(p.Parameter.Value), ReplicaState.Hash(p.Parameter.Momentum) }),
        .. model.NamedBuffers().Select(b => ReplicaState.Hash(b.Buffer)),
    ];

    /// <summary>Rank 1 of a 2-rank world whose rank 0 broadcasts <paramref name="rootHashes"/> and contributes zeros to
    /// every sum (rank 0 never differs from itself).</summary>
    private sealed class RankOneOfTwo(ulong[] rootHashes) : ICommunicator
    {
        public int Rank => 1;
        public int Size => 2;
        public string Describe() => "rank 1 of 2 (test)";
        public void AllReduceSum<T>(Span<T> data) where T : unmanaged { }
        public void AllReduceMax<T>(Span<T> data) where T : unmanaged { }
        public ReduceRequest BeginAllReduceSum(float[] pinned, int offset, int count) => ReduceRequest.Done;

        public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged
        {
            if (typeof(T) != typeof(ulong)) throw new NotSupportedException(typeof(T).Name);
            System.Runtime.InteropServices.MemoryMarshal.Cast<T, ulong>(data).Clear();
            rootHashes.CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<T, ulong>(data));
        }

        public T[][]? Gather<T>(ReadOnlySpan<T> mine, int root = 0) where T : unmanaged => null;
        public void Barrier() { }
        public void Abort(int exitCode) => throw new InvalidOperationException($"abort {exitCode}");
    }
}
