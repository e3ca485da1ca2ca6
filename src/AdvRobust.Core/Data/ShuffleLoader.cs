using AdvRobust.Core.Random;

namespace AdvRobust.Core.Data;

/// <summary>
/// A seeded, shuffling mini-batch loader over a <see cref="LabeledImages"/>. Shape letters: B batch, C, H, W image.
///
/// Determinism: an epoch's order is a pure function of (seed, epoch), computed by <see cref="EpochOrder"/> with a
/// Fisher–Yates shuffle whose draws come from Philox keyed by (seed, stream = epoch, purpose = 2, sample = i), so a
/// run resumed at epoch k sees exactly the order it would have seen without stopping. Batches are the order cut
/// into runs of <c>batchSize</c>; with dropLast the short tail is skipped.
///
/// Prefetch: while the caller works on batch b, a worker task gathers batch b+1 (at most one batch ahead). Order and
/// contents are the same with or without prefetch; an exception thrown while gathering a batch (including in the
/// optional transform) surfaces from the enumerator at that batch's position, with its original type. Leaving an
/// epoch early (break, or disposing the enumerator) waits for the in-flight batch, so no work outlives it; disposing
/// the loader or cancelling the token stops the epoch at the next batch.
/// </summary>
public sealed class ShuffleLoader : IDisposable
{
    /// <summary>The Philox purpose word of shuffle draws (0 and 1 are Philox.PurposeElement/PurposeSample).</summary>
    public const uint PurposeShuffle = Philox.PurposeShuffle;

    private readonly Action<ImageBatch>? _transform;
    private readonly CancellationTokenSource _disposeCts = new();
    private volatile bool _disposed;

    /// <param name="transform">Optional in-place change of each gathered batch (augmentation); it runs on the
    /// prefetch worker when prefetching, and must depend only on the batch (e.g. key randomness by its
    /// indices).</param>
    public ShuffleLoader(LabeledImages data, int batchSize, ulong seed, bool shuffle = true, bool dropLast = false,
        bool prefetch = true, Action<ImageBatch>? transform = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size must be >= 1, got {batchSize}");
        (Data, BatchSize, Seed, Shuffle, DropLast, Prefetch, _transform) =
            (data, batchSize, seed, shuffle, dropLast, prefetch, transform);
    }

    public LabeledImages Data { get; }
    public int BatchSize { get; }
    public ulong Seed { get; }
    public bool Shuffle { get; }
    public bool DropLast { get; }
    public bool Prefetch { get; }

    /// <summary>Batches per epoch: ⌊N/B⌋ with dropLast, ⌈N/B⌉ without.</summary>
    public int BatchesPerEpoch => DropLast ? Data.N / BatchSize : (Data.N + BatchSize - 1) / BatchSize;

    /// <summary>The sample order of <paramref name="epoch"/>: a permutation of 0..N-1, or 0..N-1 itself when not
    /// shuffling.</summary>
    public int[] Order(int epoch) => Shuffle ? EpochOrder(Data.N, Seed, epoch) : Enumerable.Range(0, Data.N).ToArray();

    /// <summary>
    /// The permutation of 0..<paramref name="n"/>-1 for (seed, epoch): Fisher–Yates from i = n-1 down to 1, swapping
    /// position i with j uniform in [0, i]. j comes from Philox.Draw(seed, stream = epoch, purpose = 2, sample = i,
    /// element = attempt) by Lemire's multiply-and-reject, which is exactly uniform (the element counter advances
    /// only in the rare case that all four words of a draw are rejected).
    /// </summary>
    public static int[] EpochOrder(int n, ulong seed, int epoch)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"n must be >= 0, got {n}");
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), $"epoch must be >= 0, got {epoch}");
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = UniformBelow((uint)i + 1, seed, (uint)epoch, (uint)i);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>The batches of <paramref name="epoch"/>, in order. Each batch has fresh arrays the caller
    /// owns.</summary>
    public IEnumerable<ImageBatch> Epoch(int epoch, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int[] order = Order(epoch);
        return Enumerate(order, cancellation);
    }

    private IEnumerable<ImageBatch> Enumerate(int[] order, CancellationToken cancellation)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _disposeCts.Token);
        CancellationToken token = linked.Token;
        int batches = BatchesPerEpoch;
        Task<ImageBatch>? next = null;
        try
        {
            for (int b = 0; b < batches; b++)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                cancellation.ThrowIfCancellationRequested();
                // GetResult (not Result) rethrows the worker's exception itself, not an AggregateException.
                ImageBatch current = next is null ? Gather(order, b) : next.GetAwaiter().GetResult();
                next = null;
                if (Prefetch && b + 1 < batches)
                {
                    int ahead = b + 1;
                    next = Task.Run(() => Gather(order, ahead), token);
                }
                yield return current;
            }
        }
        finally
        {
            // Leaving early: let the in-flight batch finish (or see the cancellation) so nothing outlives the epoch.
            // Its result or exception is discarded: the caller has stopped asking for batches.
            if (next is not null)
            {
                try { next.Wait(CancellationToken.None); }
                catch (AggregateException) { }
            }
        }
    }

    private ImageBatch Gather(int[] order, int b)
    {
        int start = b * BatchSize, count = Math.Min(BatchSize, order.Length - start), size = Data.SampleSize;
        var x = new float[(long)count * size];
        var y = new int[count];
        var indices = order.AsSpan(start, count).ToArray();
        for (int k = 0; k < count; k++)
        {
            int i = indices[k];
            Array.Copy(Data.Pixels, (long)i * size, x, (long)k * size, size);
            y[k] = Data.Labels[i];
        }
        var batch = new ImageBatch(x, y, indices);
        _transform?.Invoke(batch);
        return batch;
    }

    /// <summary>Uniform integer in [0, bound) from the shuffle stream of sample <paramref name="sample"/>.</summary>
    private static int UniformBelow(uint bound, ulong seed, uint stream, uint sample)
    {
        uint threshold = (0u - bound) % bound; // 2^32 mod bound: low words below it would bias the result
        for (uint attempt = 0; ; attempt++)
        {
            var (x0, x1, x2, x3) = Philox.Draw(seed, stream, PurposeShuffle, sample, attempt);
            foreach (uint x in (ReadOnlySpan<uint>)[x0, x1, x2, x3])
            {
                ulong m = (ulong)x * bound;
                if ((uint)m >= threshold) return (int)(m >> 32);
            }
        }
    }

    /// <summary>Stops any epoch being enumerated at its next batch; later calls to <see cref="Epoch"/> throw.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _disposeCts.Cancel(); // not disposed: a running epoch's linked source may still read its token
    }
}
