using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;
using AdvRobust.Distributed;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Distributed;

/// <summary>
/// Gradient buckets all-reduced while backward runs (issue 15), on two in-process ranks (<see cref="InMemoryWorld"/>,
/// threads; the world checks that both ranks call the same collectives in the same order, as MPI needs): the
/// overlapped reduction gives every rank the same bits as the reduction after backward, its first bucket starts while
/// tape nodes remain, and with synchronized batch norm the buckets' all-reduces interleave with batch norm's backward
/// all-reduces in one order on both ranks. Shards of 3 and 2 rows: shares 3/5 and 2/5.
/// </summary>
public class OverlapTests
{
    private static IBackend Cpu => Backends.Cpu;
    private static readonly int[] Rows = [3, 2];

    [TestCase("small-cnn", 1, false)]
    [TestCase("resnet18", 3, true)]
    public void OverlappedReductionEqualsTheReductionAfterBackward_BitForBit(string arch, int channels, bool syncBn)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int[] shape = [channels, 8, 8];
        int per = shape.Aggregate(1, (a, b) => a * b), batch = Rows.Sum();
        float[] xs = rng.Uniform((long)batch * per, 0f, 1f);
        int[] ys = [3, 9, 0, 5, 5];

        var after = RunRanks(arch, shape, xs, ys, per, overlap: false, syncBn);
        var overlapped = RunRanks(arch, shape, xs, ys, per, overlap: true, syncBn);

        for (int r = 0; r < Rows.Length; r++)
        {
            Assert.That(overlapped.Ranks[r].Buckets, Is.GreaterThan(2), "several buckets");
            Assert.That(overlapped.Ranks[r].StartedDuringBackward, Is.GreaterThan(0), $"rank {r}: buckets started from backward");
            Assert.That(overlapped.Ranks[r].NodesLeftAtFirstStart, Is.GreaterThan(0),
                $"rank {r}: tape nodes still to run when the first bucket started");
            Assert.That(after.Ranks[r].StartedDuringBackward, Is.Zero);
            foreach (var (name, bits) in after.Ranks[r].Gradients)
                Assert.That(overlapped.Ranks[r].Gradients[name], Is.EqualTo(bits), $"rank {r} {name}: overlapped vs after");
            foreach (var (name, bits) in overlapped.Ranks[0].Gradients)
                Assert.That(overlapped.Ranks[r].Gradients[name], Is.EqualTo(bits), $"{name}: rank {r} vs rank 0");
        }
        // the world refused any difference in collective order; both ranks' logs are also the same list
        Assert.That(overlapped.World.Log(1), Is.EqualTo(overlapped.World.Log(0)));
        var log = overlapped.World.Log(0);
        if (syncBn)
        {
            int firstBucket = log.ToList().FindIndex(c => c.StartsWith("iallreduce"));
            int lastBn = log.ToList().FindLastIndex(c => c.StartsWith("allreduce-sum Double"));
            Assert.That(firstBucket, Is.GreaterThanOrEqualTo(0).And.LessThan(lastBn),
                "a bucket's all-reduce starts before batch norm's last backward all-reduce: they interleave");
        }
    }

    [Test]
    public void ASecondReportOfOneParameterInAStepIsRefused()
    {
        using var model = ModelZoo.Create("small-cnn", Cpu, 10, [1, 8, 8], [0.5f], [0.5f], 1);
        var world = new InMemoryWorld(2);
        var reduce = new GradientAllReduce(world.Rank(0), model.Parameters(), bucketBytes: 1 << 10);
        var hook = reduce.BeginStep(0.5f)!;
        var p = model.Parameters().First();
        hook(p);
        Assert.That(() => hook(p), Throws.InvalidOperationException.With.Message.Contains(p.Name));
    }

    [Test]
    public void FixedOrderAndOneRankHaveNothingToOverlap()
    {
        using var model = ModelZoo.Create("small-cnn", Cpu, 10, [1, 8, 8], [0.5f], [0.5f], 1);
        var world = new InMemoryWorld(2);
        Assert.That(new GradientAllReduce(world.Rank(0), model.Parameters()) { FixedOrder = true }.BeginStep(1f), Is.Null);
        Assert.That(new GradientAllReduce(SingleProcess.Instance, model.Parameters()).BeginStep(1f), Is.Null);
        Assert.That(new GradientAllReduce(world.Rank(0), model.Parameters()) { Overlap = false }.BeginStep(1f), Is.Null);
    }

    private sealed record RankResult(Dictionary<string, int[]> Gradients, int Buckets, int StartedDuringBackward,
        int NodesLeftAtFirstStart);

    private static (InMemoryWorld World, RankResult[] Ranks) RunRanks(string arch, int[] shape, float[] xs, int[] ys,
        int per, bool overlap, bool syncBn)
    {
        var world = new InMemoryWorld(Rows.Length);
        var results = new RankResult[Rows.Length];
        var failures = new Exception?[Rows.Length];
        var threads = Enumerable.Range(0, Rows.Length).Select(r => new Thread(() =>
        {
            try
            {
                int start = Rows.Take(r).Sum();
                results[r] = Rank(arch, shape, xs[(start * per)..((start + Rows[r]) * per)],
                    ys[start..(start + Rows[r])], world.Rank(r), (float)Rows[r] / Rows.Sum(), overlap, syncBn);
            }
            catch (Exception e)
            {
                failures[r] = e;
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        for (int r = 0; r < Rows.Length; r++)
            if (failures[r] is { } e) throw new AssertionException($"rank {r}: {e}");
        return (world, results);
    }

    private static float[] Half(int channels) => Enumerable.Repeat(0.5f, channels).ToArray();

    /// <summary>One rank's training step: forward, mean cross-entropy over its rows, backward, reduction.</summary>
    private static RankResult Rank(string arch, int[] shape, float[] xs, int[] ys, ICommunicator world, float share,
        bool overlap, bool syncBn)
    {
        using var model = ModelZoo.Create(arch, Cpu, 10, shape, Half(shape[0]), Half(shape[0]), 11);
        if (syncBn) BatchNormSync.Attach(world, model);
        model.Train();
        var reduce = new GradientAllReduce(world, model.Parameters(), bucketBytes: 64 << 10) { Overlap = overlap };
        using var tape = new Tape(Cpu);
        using var x = Tensor.FromArray(Cpu, xs, [ys.Length, .. shape]);
        using var labels = Tensor.FromArray(Cpu, ys, ys.Length);
        var loss = F.Mean(tape, F.CrossEntropy(tape, model.Forward(tape, tape.Constant(x)).Logits, labels));
        int nodesLeft = -1;
        Action<Parameter>? hook = null;
        if (reduce.BeginStep(share) is { } ready)
            hook = p =>
            {
                ready(p);
                if (nodesLeft < 0 && reduce.StartedDuringBackward > 0) nodesLeft = tape.NodesLeft;
            };
        tape.Backward(loss, hook);
        int started = reduce.StartedDuringBackward;
        reduce.Run(share);
        var gradients = model.NamedParameters().ToDictionary(p => p.Name,
            p => p.Parameter.Grad!.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray());
        return new RankResult(gradients, reduce.Buckets, started, nodesLeft);
    }
}
