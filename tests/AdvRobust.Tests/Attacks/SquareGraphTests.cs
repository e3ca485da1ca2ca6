using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Attacks;

/// <summary>
/// Square queries as one CUDA graph per run on the emulator: the query index lives in a device counter that the
/// accept kernel advances and the window side follows from it on the device, so every query has the same arguments.
/// With graphs on, a run equals the same run with graphs off bit for bit (adversarial examples, success flags,
/// losses, the number of queries); query 0 of a run is eager, query 1 captured, later queries are replays that
/// launch nothing from the host but the graph and allocate nothing, and no query after the first (which reads the
/// early-stop flag) makes a synchronization or a copy, with graphs on or off. The schedules chosen change the side
/// from one query to the next inside the replayed graph. Model: the narrow ResNet-18, N = 6 samples of 3×8×8
/// labelled with its own predictions (Square attacks only clean-correct points).
/// </summary>
[Category("Gpu")]
[Category("Emulator")]
public class SquareGraphTests : EmulatorGraphFixture
{
    private const int N = 6, D = 3 * 8 * 8;

    private static IEnumerable<TestCaseData> Cases()
    {
        // Rescaled to 12 queries: the side shrinks from query 0 to 4 (7, 2, 1 … on 8×8 for l-inf; 7, 3 for l2).
        yield return Case(new SquareSettings(0.02f, Queries: 12, RescaleSchedule: true, Restarts: 2, Seed: 3,
            StopCheckEvery: 100), "linf-rescaled-2-restarts");
        yield return Case(new SquareSettings(0.3f, Queries: 12, RescaleSchedule: true, Seed: 3, Norm: PgdNorm.L2,
            StopCheckEvery: 100), "l2-rescaled");
        // The plain schedule's first halving after query 10.
        yield return Case(new SquareSettings(0.3f, Queries: 14, Seed: 4, Norm: PgdNorm.L2, StopCheckEvery: 100),
            "l2-plain");
        static TestCaseData Case(SquareSettings s, string name) =>
            new TestCaseData(new Square(s), name).SetArgDisplayNames(name);
    }

    [TestCaseSource(nameof(Cases))]
    public void Square_GraphsOn_EqualsGraphsOffBitForBit_AndReplaysOnlyTheGraph(Square attack, string name)
    {
        using var model = NarrowResNet(5);
        var off = WithGraphs(false, () => Run(model, attack));
        var on = WithGraphs(true, () => Run(model, attack));
        Assert.That(on.Adv, Is.EqualTo(off.Adv), $"{name}: adversarial examples");
        Assert.That(on.Success, Is.EqualTo(off.Success), $"{name}: success flags");
        Assert.That(on.Loss, Is.EqualTo(off.Loss), $"{name}: losses");
        Assert.That(on.Queries, Is.EqualTo(off.Queries), $"{name}: queries per run");
        int q = attack.Config.Queries;
        Assert.That(on.Queries, Is.All.EqualTo(q), $"{name}: some sample survives every query of every run");
        Assert.That(on.Queries, Has.Count.EqualTo(attack.Config.Restarts), $"{name}: runs");
        Assert.That(off.Steps.Sum(s => s.Count.GraphLaunches), Is.Zero, "graphs off: every query eager");

        // Per run: queries 1 … q − 1 are measured; query 1 is captured (and launched), 2 … q − 1 replayed.
        Assert.That(on.Steps, Has.Count.EqualTo(on.Queries.Count * (q - 1)));
        foreach (var (index, count) in on.Steps)
        {
            Assert.That(count.GraphLaunches, Is.EqualTo(1), $"{name}: graph launches of query {index}");
            if (index < 2) continue;
            Assert.That(count.HostKernelLaunches, Is.Zero, $"{name}: kernels launched by the host in replayed query");
            Assert.That(count.KernelLaunches, Is.GreaterThan(0), $"{name}: the replay runs the query's kernels");
            Assert.That(count.LibraryCalls, Is.GreaterThan(0), $"{name}: the replay runs the forward pass");
            Assert.That((count.Allocations, count.Frees), Is.EqualTo((0L, 0L)),
                $"{name}: allocations and frees in replayed query {index}");
        }
        foreach (var (index, count) in on.Steps.Concat(off.Steps))
            Assert.That((count.Syncs, count.HostToDeviceCopies, count.DeviceToHostCopies), Is.EqualTo((0L, 0L, 0L)),
                $"{name}: syncs and copies in query {index}");
        var eager = off.Steps[^1].Count;
        var replay = on.Steps[^1].Count;
        TestContext.Out.WriteLine($"{name}: eager query {eager.KernelLaunches} kernel launches, " +
            $"{eager.LibraryCalls} library calls; replayed query {replay.GraphLaunches} graph launch, " +
            $"{replay.HostKernelLaunches} host kernel launches, {replay.GraphKernelLaunches} replayed kernels");
    }

    private record Result(float[] Adv, bool[] Success, float[] Loss, List<int> Queries,
        List<(int Index, EmulatorCount Count)> Steps);

    private Result Run(Classifier model, Square attack)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        using var x = Tensor.FromArray(Gpu, rng.Uniform(N * D, 0f, 1f), N, 3, 8, 8);
        model.Eval();
        int[] y = Predictions.Argmax(Predictions.Logits(model, x, out int k), k);
        using var labels = Tensor.FromArray(Gpu, y, N);
        var progress = new QueryCounts();
        using var r = attack.Run(model, x, labels, 0u, progress: progress);
        return new Result(r.Adversarial.ToArray(), r.Success, r.Loss, progress.Queries, progress.Steps);
    }

    /// <summary>The emulator's counts over each query after the first of a run (the emulator runs work as it is
    /// issued, so the difference between two progress reports is the query between them), and each run's queries.
    /// Square reports query i of a run as Done = i + 1.</summary>
    private sealed class QueryCounts : IProgress<AttackProgress>
    {
        private EmulatorCount _last;
        public List<(int Index, EmulatorCount Count)> Steps { get; } = [];
        public List<int> Queries { get; } = [];

        public void Report(AttackProgress value)
        {
            var now = EmulatorCounters.Total;
            if (value.Done == 1) Queries.Add(0);
            else Steps.Add((value.Done - 1, Minus(now, _last)));
            Queries[^1] = value.Done;
            _last = now;
        }
    }
}
