using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// Synchronized batch norm (F.BatchNormSynced) without MPI: K in-process "ranks" (threads), each a BatchNorm2d over its
// rows of one batch, share an in-memory all-reduce; together they must equal one BatchNorm2d over the whole batch.
// Each rank's loss is the mean over its rows of Σ y·W, and the data-parallel gradient is Σ_r (n_r/B)·(rank r's), so
// rank r's dx times n_r/B is the whole batch's dx of its rows, and Σ_r (n_r/B)·dγ_r, Σ_r (n_r/B)·dβ_r are the whole
// batch's dγ, dβ. Shape letters: x N×C×H×W.
public class SyncBatchNormTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(new[] { 3, 2 }, 3, 3, 5)]
    [TestCase(new[] { 2, 2 }, 4, 1, 7)]
    [TestCase(new[] { 1, 3, 2 }, 2, 5, 3)]
    public void ShardsOverSharedAllReduce_EqualOneLayerOverTheBatch(int[] rows, int c, int h, int w)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        int batch = rows.Sum(), per = c * h * w;
        // An offset far from zero, so the variance comes from a difference of large sums (precision check)
        float[] x = rng.Normal((long)batch * per, 2f).Select(v => v + 30f).ToArray();
        float[] weights = rng.Normal((long)batch * per), gamma = rng.Uniform(c, 0.5f, 2f), beta = rng.Uniform(c);
        float[] runningMean = rng.Uniform(c), runningVar = rng.Uniform(c, 0.5f, 2f);

        var whole = Run(x, weights, batch, c, h, w, gamma, beta, runningMean, runningVar, null);

        var ranks = new InMemoryRanks(rows.Length);
        var starts = rows.Select((_, r) => rows.Take(r).Sum()).ToArray();
        var shards = new Result[rows.Length];
        var threads = rows.Select((n, r) => new Thread(() =>
        {
            int from = starts[r] * per, count = n * per;
            shards[r] = Run(x[from..(from + count)], weights[from..(from + count)], n, c, h, w, gamma, beta,
                runningMean, runningVar, ranks.Rank(r));
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();

        var dgamma = new float[c];
        var dbeta = new float[c];
        for (int r = 0; r < rows.Length; r++)
        {
            var s = shards[r];
            float share = (float)rows[r] / batch;
            int from = starts[r] * per, count = rows[r] * per;
            AssertClose.All(whole.Y[from..(from + count)], s.Y, 2e-5, 2e-5, $"rank {r} y");
            AssertClose.All(whole.Dx[from..(from + count)], s.Dx.Select(v => v * share).ToArray(), 1e-6, 1e-4,
                $"rank {r} dx");
            AssertClose.All(whole.RunningMean, s.RunningMean, 1e-5, 1e-6, $"rank {r} running mean");
            AssertClose.All(whole.RunningVar, s.RunningVar, 1e-5, 1e-5, $"rank {r} running var");
            Assert.That(s.Tracked, Is.EqualTo(new[] { 1f }), $"rank {r} num_batches_tracked");
            for (int ch = 0; ch < c; ch++)
            {
                dgamma[ch] += share * s.DGamma[ch];
                dbeta[ch] += share * s.DBeta[ch];
            }
        }
        AssertClose.All(whole.DGamma, dgamma, 1e-5, 1e-4, "dγ");
        AssertClose.All(whole.DBeta, dbeta, 1e-5, 1e-4, "dβ");
    }

    [Test]
    public void OneParticipant_MatchesThePlainLayer()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 4, c = 3, h = 2, w = 3;
        float[] x = rng.Normal(n * c * h * w), weights = rng.Normal(n * c * h * w);
        float[] gamma = rng.Uniform(c, 0.5f, 2f), beta = rng.Uniform(c), rm = new float[c], rv = [1f, 1f, 1f];
        var plain = Run(x, weights, n, c, h, w, gamma, beta, rm, rv, null);
        var synced = Run(x, weights, n, c, h, w, gamma, beta, rm, rv, new InMemoryRanks(1).Rank(0));
        AssertClose.All(plain.Y, synced.Y, 1e-5, 1e-5, "y");
        AssertClose.All(plain.Dx, synced.Dx, 1e-6, 1e-4, "dx");
        AssertClose.All(plain.DGamma, synced.DGamma, 1e-5, 1e-4, "dγ");
        AssertClose.All(plain.DBeta, synced.DBeta, 1e-5, 1e-4, "dβ");
        AssertClose.All(plain.RunningMean, synced.RunningMean, 1e-6, 1e-6, "running mean");
        AssertClose.All(plain.RunningVar, synced.RunningVar, 1e-6, 1e-6, "running var");
    }

    [Test]
    public void EvalMode_IgnoresTheSync()
    {
        // Eval normalizes with the running statistics: no collective may be called (a rank alone would hang).
        using var bn = new BatchNorm2d(ParameterInit.ForLoading(Cpu), 2) { Sync = new Refusing() };
        bn.Eval();
        using var tape = new Tape(Cpu, parameterGradients: false);
        using var x = Tensor.FromArray(Cpu, new float[] { 1, 2, 3, 4 }, 1, 2, 2, 1);
        Assert.That(bn.Forward(tape, tape.Constant(x)).Value.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f })
            .Within(1e-4));
    }

    private sealed record Result(float[] Y, float[] Dx, float[] DGamma, float[] DBeta, float[] RunningMean,
        float[] RunningVar, float[] Tracked);

    private static Result Run(float[] x, float[] weights, int n, int c, int h, int w, float[] gamma, float[] beta,
        float[] runningMean, float[] runningVar, IBatchNormSync? sync)
    {
        using var bn = new BatchNorm2d(ParameterInit.ForLoading(Cpu), c) { Sync = sync };
        Cpu.CopyIn(bn.Weight.Value.Storage, (ReadOnlySpan<float>)gamma);
        Cpu.CopyIn(bn.Bias.Value.Storage, (ReadOnlySpan<float>)beta);
        Cpu.CopyIn(bn.RunningMean.Storage, (ReadOnlySpan<float>)runningMean);
        Cpu.CopyIn(bn.RunningVar.Storage, (ReadOnlySpan<float>)runningVar);
        using var tape = new Tape(Cpu);
        using var xt = Tensor.FromArray(Cpu, x, n, c, h, w);
        using var wt = Tensor.FromArray(Cpu, weights, n, c, h, w);
        var input = tape.Input(xt);
        var y = bn.Forward(tape, input);
        var loss = F.Scale(tape, F.Sum(tape, F.Mul(tape, y, tape.Constant(wt))), 1f / n);
        tape.Backward(loss);
        return new Result(y.Value.ToArray(), input.Grad!.ToArray(), bn.Weight.Grad!.ToArray(),
            bn.Bias.Grad!.ToArray(), bn.RunningMean.ToArray(), bn.RunningVar.ToArray(), bn.NumBatchesTracked.ToArray());
    }

    /// <summary>K participants in one process (one thread each): an all-reduce publishes each one's values, waits for
    /// all, sums them in rank order, and waits again before the slots may be reused.</summary>
    private sealed class InMemoryRanks(int ranks)
    {
        private readonly Barrier _barrier = new(ranks);
        private readonly double[][] _slots = new double[ranks][];

        public IBatchNormSync Rank(int rank) => new Member(this, rank);

        private sealed class Member(InMemoryRanks all, int rank) : IBatchNormSync
        {
            public void AllReduceSum(Span<double> values)
            {
                all._slots[rank] = values.ToArray();
                all._barrier.SignalAndWait();
                values.Clear();
                foreach (var slot in all._slots)
                    for (int i = 0; i < values.Length; i++) values[i] += slot[i];
                all._barrier.SignalAndWait();
            }
        }
    }

    private sealed class Refusing : IBatchNormSync
    {
        public void AllReduceSum(Span<double> values) => Assert.Fail("eval mode called the batch-norm sync");
    }
}
