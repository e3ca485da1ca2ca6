using AdvRobust.Cli.Commands;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Distributed;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Distributed;

/// <summary>
/// The NCCL path overlapped with backward (issue 15) on the CUDA emulator, in this process: a small CNN's step on the
/// emulated device with its gradient buckets all-reduced on the collectives' second stream as backward finishes them.
/// What the design says it costs: per bucket one event recorded on the compute stream and one cuStreamWaitEvent of the
/// communication stream on it, and after backward one event on the communication stream that the compute stream waits
/// on, so Buckets + 1 of each, and no host synchronization; none of either for the reduction after backward (on the
/// compute stream). The world claims two ranks (so that the gradients are reduced) but this rank is the only
/// participant, also of the NCCL communicator, so every reduced gradient must be share·g bit for bit, g the gradient
/// backward finished (read when it was reported, or after backward); each path is checked against its own g, because
/// the emulated device's backward differs between two passes of one process in the last bits. The two-rank sums, and
/// NCCL overlapped vs after backward vs the host path on whole runs, are <see cref="MpiNcclTests"/>.
/// </summary>
[Category("Gpu")]
[NonParallelizable]
public class NcclSideStreamTests
{
    [Test]
    public void BucketsReduceOnTheSecondStream_OneForkPerBucketAndOneJoin_SameBitsAsAfterBackwardAndHost()
    {
        if (!NativeLibraries.EmulatorSelected) Assert.Ignore("needs ADVROBUST_CUDA=emulator (the NCCL stand-in, counters)");
        var backend = (CudaBackend)Backends.CudaOrIgnore();
        if (NcclCommunicator.Unavailable() is { } why) Assert.Ignore(why);
        using var comm = NcclCommunicator.Create(0, 1, _ => { });
        using var nccl = new TrainRanks.NcclCollectives(comm, backend);

        var overlapped = Step(backend, nccl, overlap: true, "nccl-overlapped");
        var after = Step(backend, nccl, overlap: false, "nccl-after");
        var host = Step(backend, null, overlap: true, "host-overlapped");

        Assert.That(overlapped.Buckets, Is.GreaterThan(2));
        Assert.That(overlapped.StartedDuringBackward, Is.EqualTo(overlapped.Buckets), "every bucket got a gradient");
        Assert.That(overlapped.NodesLeftAtFirstStart, Is.GreaterThan(0), "started while tape nodes remained");
        Assert.That(overlapped.StreamWaits, Is.EqualTo(overlapped.Buckets + 1), "a wait per bucket and one join");
        Assert.That(overlapped.EventRecords, Is.EqualTo(overlapped.Buckets + 1), "an event per bucket and one");
        Assert.That(overlapped.Syncs, Is.Zero, "the host never waits for the device");
        Assert.That((after.StreamWaits, after.EventRecords, after.Syncs), Is.EqualTo((0L, 0L, 0L)),
            "after backward: on the compute stream alone");
        Assert.That(after.StartedDuringBackward, Is.Zero);
        Assert.That(host.StartedDuringBackward, Is.EqualTo(host.Buckets));
        foreach (var (path, result) in new[] { ("second stream", overlapped), ("after backward", after), ("host", host) })
            foreach (var (name, (reduced, expected)) in result.Gradients)
                Assert.That(reduced, Is.EqualTo(expected), $"{path}, {name}: share·g bit for bit");
    }

    private const float Share = 0.3f;

    /// <summary>Per parameter the reduced gradient's bits and share·g's; the counts of the step less those of reading
    /// g for the check.</summary>
    private sealed record Result(Dictionary<string, (int[] Reduced, int[] Expected)> Gradients, int Buckets,
        int StartedDuringBackward, int NodesLeftAtFirstStart, long StreamWaits, long EventRecords, long Syncs);

    private static Result Step(CudaBackend backend, IDeviceCollectives? device, bool overlap, string region)
    {
        const int rows = 3;
        using var model = ModelZoo.Create("small-cnn", backend, 10, [1, 8, 8], [0.5f], [0.5f], 5);
        model.Train();
        var reduce = new GradientAllReduce(new OnlyParticipant(), model.Parameters(), bucketBytes: 64 << 10)
        {
            Device = device,
            Overlap = overlap,
        };
        var xs = new SeededRandom("NcclSideStreamTests").Uniform(rows * 64, 0f, 1f);
        using var x = Tensor.FromArray(backend, xs, rows, 1, 8, 8);
        using var labels = Tensor.FromArray(backend, new[] { 2, 7, 7 }, rows);
        using var tape = new Tape(backend);
        var loss = F.Mean(tape, F.CrossEntropy(tape, model.Forward(tape, tape.Constant(x)).Logits, labels));
        var final = new Dictionary<Parameter, float[]>(ReferenceEqualityComparer.Instance);
        void Read(Parameter p)
        {
            using (EmulatorCounters.Region(region + "-read")) final[p] = p.Grad!.ToArray();
        }
        int nodesLeft = -1, started;
        using (EmulatorCounters.Region(region))
        {
            Action<Parameter>? hook = null;
            if (reduce.BeginStep(Share) is { } ready)
                hook = p =>
                {
                    Read(p);
                    ready(p);
                    if (nodesLeft < 0 && reduce.StartedDuringBackward > 0) nodesLeft = tape.NodesLeft;
                };
            tape.Backward(loss, hook);
            if (hook is null)
                foreach (var p in model.Parameters()) Read(p);
            started = reduce.StartedDuringBackward;
            reduce.Run(Share);
        }
        var (step, read) = (EmulatorCounters.Read(region), EmulatorCounters.Read(region + "-read"));
        static int[] Bits(IEnumerable<float> values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
        var gradients = model.NamedParameters().ToDictionary(p => p.Name,
            p => (Bits(p.Parameter.Grad!.ToArray()), Bits(final[p.Parameter].Select(g => Share * g))));
        return new Result(gradients, reduce.Buckets, started, nodesLeft, step.StreamWaits - read.StreamWaits,
            step.EventRecords - read.EventRecords, step.Syncs - read.Syncs);
    }

    /// <summary>A world of two ranks of which only this one takes part: every sum is this rank's own values, as the
    /// one-rank NCCL communicator's are.</summary>
    private sealed class OnlyParticipant : ICommunicator
    {
        public int Rank => 0;
        public int Size => 2;
        public string Describe() => "rank 0 of 2, the only participant (test)";
        public void AllReduceSum<T>(Span<T> data) where T : unmanaged { }
        public void AllReduceMax<T>(Span<T> data) where T : unmanaged { }
        public ReduceRequest BeginAllReduceSum(float[] pinned, int offset, int count) => ReduceRequest.Done;
        public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged { }
        public T[][]? Gather<T>(ReadOnlySpan<T> mine, int root = 0) where T : unmanaged => [mine.ToArray()];
        public void Barrier() { }
        public void Abort(int exitCode) => throw new InvalidOperationException($"abort {exitCode}");
    }
}
