using AdvRobust.Core.Data;

namespace AdvRobust.Tests.Data;

public class ShuffleLoaderTests
{
    private const ulong Seed = 0x0123456789ABCDEF;

    private static List<ImageBatch> Run(ShuffleLoader loader, int epoch) => loader.Epoch(epoch).ToList();

    [Test]
    public void EpochOrder_KnownSeed_MatchesIndependentPythonPhilox()
    {
        // Computed by a separate Python implementation of Philox4x32-10 + Lemire + Fisher–Yates (checked against the
        // Random123 known-answer vector), keyed as documented: (seed, stream = epoch, purpose 2, sample i).
        Assert.That(ShuffleLoader.EpochOrder(10, Seed, 3), Is.EqualTo(new[] { 2, 7, 8, 9, 5, 0, 6, 3, 4, 1 }));
        Assert.That(ShuffleLoader.EpochOrder(10, Seed, 4), Is.EqualTo(new[] { 4, 0, 5, 9, 6, 8, 2, 3, 1, 7 }));
        Assert.That(ShuffleLoader.EpochOrder(12, 7, 0), Is.EqualTo(new[] { 11, 10, 8, 1, 3, 6, 0, 4, 5, 7, 9, 2 }));
    }

    [Test]
    public void Epoch_SameSeedAndEpoch_SameBatchesEvenAfterResume()
    {
        var data = LabeledImagesTests.Indexed(103);
        using var a = new ShuffleLoader(data, 10, Seed);
        var straight = Enumerable.Range(0, 4).Select(e => Run(a, e)).Last();
        using var resumed = new ShuffleLoader(data, 10, Seed); // a fresh process resuming at epoch 3

        var again = Run(resumed, 3);

        Assert.That(again.Select(b => b.Indices), Is.EqualTo(straight.Select(b => b.Indices)));
        Assert.That(again.Select(b => b.X), Is.EqualTo(straight.Select(b => b.X)));
    }

    [Test]
    public void EpochOrder_DifferentEpochOrSeed_DifferentOrder()
    {
        int[] e0 = ShuffleLoader.EpochOrder(100, Seed, 0);
        Assert.That(ShuffleLoader.EpochOrder(100, Seed, 1), Is.Not.EqualTo(e0));
        Assert.That(ShuffleLoader.EpochOrder(100, Seed + 1, 0), Is.Not.EqualTo(e0));
        Assert.That(e0, Is.Not.EqualTo(Enumerable.Range(0, 100)));
    }

    [Test]
    public void Epoch_EveryIndexExactlyOnce_BatchesMatchTheirIndices()
    {
        var data = LabeledImagesTests.Indexed(103);
        using var loader = new ShuffleLoader(data, 10, Seed);

        var batches = Run(loader, 0);

        Assert.That(loader.BatchesPerEpoch, Is.EqualTo(11));
        Assert.That(batches.Select(b => b.Count), Is.EqualTo(Enumerable.Repeat(10, 10).Append(3)));
        Assert.That(batches.SelectMany(b => b.Indices).Order(), Is.EqualTo(Enumerable.Range(0, 103)));
        foreach (var (x, y, indices) in batches)
            for (int k = 0; k < indices.Length; k++)
            {
                Assert.That(y[k], Is.EqualTo(data.Labels[indices[k]]));
                Assert.That(x.AsSpan(4 * k, 4).ToArray(), Is.EqualTo(data.Image(indices[k]).ToArray()));
            }
    }

    [Test]
    public void Epoch_DropLast_SkipsTheShortTail()
    {
        using var loader = new ShuffleLoader(LabeledImagesTests.Indexed(103), 10, Seed, dropLast: true);

        var batches = Run(loader, 2);

        Assert.That(batches, Has.Count.EqualTo(10));
        Assert.That(batches.All(b => b.Count == 10));
        Assert.That(batches.SelectMany(b => b.Indices).Distinct().Count(), Is.EqualTo(100));
        Assert.That(batches.SelectMany(b => b.Indices), Is.EqualTo(ShuffleLoader.EpochOrder(103, Seed, 2)[..100]));
    }

    [Test]
    public void Epoch_NoShuffle_IsSequential()
    {
        using var loader = new ShuffleLoader(LabeledImagesTests.Indexed(7), 3, Seed, shuffle: false);

        Assert.That(Run(loader, 5).SelectMany(b => b.Indices), Is.EqualTo(Enumerable.Range(0, 7)));
    }

    [Test]
    public void Epoch_PrefetchOnOrOff_SameSequence()
    {
        var data = LabeledImagesTests.Indexed(57);
        using var on = new ShuffleLoader(data, 8, Seed, prefetch: true);
        using var off = new ShuffleLoader(data, 8, Seed, prefetch: false);

        var a = Run(on, 1);
        var b = Run(off, 1);

        Assert.That(a.Select(x => x.Indices), Is.EqualTo(b.Select(x => x.Indices)));
        Assert.That(a.Select(x => x.X), Is.EqualTo(b.Select(x => x.X)));
        Assert.That(a.Select(x => x.Y), Is.EqualTo(b.Select(x => x.Y)));
    }

    [Test]
    public void EpochOrder_ManyEpochs_EveryPositionEquallyLikely()
    {
        // 4000 shuffles of 5 elements: each (element, position) pair expects 800 hits,
        // sd = sqrt(4000·0.2·0.8) ≈ 25.3, so the band below is ±5 sd.
        // A Sattolo-style bug (j in [0, i)) would never leave an element in place; an off-by-one bias shows at > 5 sd.
        var counts = new int[5, 5];
        for (int epoch = 0; epoch < 4000; epoch++)
        {
            int[] order = ShuffleLoader.EpochOrder(5, Seed, epoch);
            for (int pos = 0; pos < 5; pos++) counts[order[pos], pos]++;
        }
        foreach (int c in counts) Assert.That(c, Is.InRange(800 - 126, 800 + 126));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Epoch_TransformThrowsOnThirdBatch_SurfacesThereWithItsType(bool prefetch)
    {
        int calls = 0;
        using var loader = new ShuffleLoader(LabeledImagesTests.Indexed(50), 10, Seed, prefetch: prefetch,
            transform: _ =>
            {
                if (Interlocked.Increment(ref calls) == 3) throw new InvalidOperationException("augment failed");
            });
        var received = new List<ImageBatch>();

        var e = Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var b in loader.Epoch(0)) received.Add(b);
        })!;

        Assert.That(e.Message, Is.EqualTo("augment failed"));
        Assert.That(received, Has.Count.EqualTo(2));
    }

    [Test]
    public void Epoch_BreakMidEpoch_WaitsForPrefetchAndStaysUsable()
    {
        int started = 0, finished = 0;
        using var loader = new ShuffleLoader(LabeledImagesTests.Indexed(100), 10, Seed, transform: _ =>
        {
            Interlocked.Increment(ref started);
            Thread.Sleep(20);
            Interlocked.Increment(ref finished);
        });

        int seen = 0;
        foreach (var _ in loader.Epoch(0))
            if (++seen == 2) break;

        // Leaving the loop disposed the enumerator, which waited for the batch being prefetched: none is in flight.
        Assert.That(Volatile.Read(ref finished), Is.EqualTo(Volatile.Read(ref started)));
        Assert.That(started, Is.EqualTo(3));
        Thread.Sleep(50);
        Assert.That(Volatile.Read(ref started), Is.EqualTo(3), "no batch may be gathered after the epoch was left");
        Assert.That(Run(loader, 0).SelectMany(b => b.Indices).Order(), Is.EqualTo(Enumerable.Range(0, 100)));
    }

    [Test]
    public void Dispose_MidEpoch_NextBatchThrowsObjectDisposed()
    {
        var loader = new ShuffleLoader(LabeledImagesTests.Indexed(100), 10, Seed);
        using var batches = loader.Epoch(0).GetEnumerator();
        Assert.That(batches.MoveNext());

        loader.Dispose();

        Assert.Throws<ObjectDisposedException>(() => batches.MoveNext());
        Assert.Throws<ObjectDisposedException>(() => loader.Epoch(1));
    }

    [Test]
    public void Epoch_Cancelled_ThrowsOperationCanceledAtNextBatch()
    {
        using var loader = new ShuffleLoader(LabeledImagesTests.Indexed(100), 10, Seed);
        using var cts = new CancellationTokenSource();
        int seen = 0;

        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (var _ in loader.Epoch(0, cts.Token))
                if (++seen == 2) cts.Cancel();
        });
        Assert.That(seen, Is.EqualTo(2));
    }
}
