using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Distributed;

/// <summary>
/// Sums the ranks' gradients after backward, bucket by bucket, so that every rank steps with the gradient of the
/// global batch. The parameters are grouped, in the reverse of their declaration order (the order backward finishes
/// them: last layer first), into buckets of about <see cref="BucketBytes"/>; each bucket is copied from the device into
/// a pinned host buffer, scaled by this rank's share of the global batch, and its non-blocking all-reduce
/// (MPI_Iallreduce) started before the next bucket is packed; then each bucket is waited for in order and copied back.
/// What overlaps: the transfer and reduction of a bucket with the packing (device→host copy and scaling) of the later
/// ones, and Open MPI's progress with the unpacking of the earlier ones. The reduction does not overlap the backward
/// pass itself: the tape runs backward to the end before this is called (a hook per parameter into the tape would be
/// needed; on GPUs NCCL on a second stream is the place for it).
///
/// Scaling: each objective's loss is the mean over its rows, so a rank's gradient is the mean over its shard of
/// b_r rows; the global batch's mean gradient is Σ_r (b_r / B)·g_r, hence each rank multiplies by b_r / B before the
/// sum. With equal shards the factor is 1/K, exact for K a power of two.
/// </summary>
public sealed class GradientAllReduce
{
    private readonly ICommunicator _world;
    private readonly List<Parameter[]> _buckets = [];
    private readonly float[] _buffer;
    private float[]? _gathered; // rank 0 in fixed-order mode: every rank's buffer, in rank order

    public GradientAllReduce(ICommunicator world, IEnumerable<Parameter> parameters, int bucketBytes = 4 << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 4);
        _world = world;
        BucketBytes = bucketBytes;
        var current = new List<Parameter>();
        long bytes = 0, total = 0;
        foreach (var p in parameters.Where(p => p.RequiresGrad).Reverse())
        {
            if (current.Count > 0 && bytes + 4 * p.Value.Length > bucketBytes)
            {
                _buckets.Add([.. current]);
                (current, bytes) = ([], 0);
            }
            current.Add(p);
            bytes += 4 * p.Value.Length;
            total += p.Value.Length;
        }
        if (current.Count > 0) _buckets.Add([.. current]);
        if (total > int.MaxValue) throw new NotSupportedException($"{total} gradient values pass one host buffer");
        _buffer = GC.AllocateArray<float>((int)total, pinned: true);
        GradientValues = total;
    }

    public int BucketBytes { get; }
    public int Buckets => _buckets.Count;

    /// <summary>Gradient values per step (4 bytes each).</summary>
    public long GradientValues { get; }

    /// <summary>
    /// Fixed-order mode (<c>fixedOrder</c>): every rank's scaled gradient goes whole to rank 0 (MPI_Gatherv), which sums
    /// them in rank order, ((g_0 + g_1) + g_2) + …, and broadcasts the sum, so the bits depend neither on Open MPI's
    /// choice of reduction algorithm nor on the arrival order, and every rank holds the same bits by construction. It
    /// costs rank 0 (K − 1) receives and sends of the whole gradient, against the ring all-reduce's 2(K − 1)/K per rank,
    /// and nothing overlaps.
    /// </summary>
    public bool FixedOrder { get; init; }

    /// <summary>
    /// Device mode: when set (NCCL on a CUDA rank) and not <see cref="FixedOrder"/>, each bucket's gradients are
    /// scaled in place on the device (y = share·y) and all-reduced tensor by tensor inside one group per bucket, with
    /// no host copies. It runs after backward, like the host path (not overlapped with it: the tape has no per-parameter
    /// hook), on the backend's stream.
    /// </summary>
    public IDeviceCollectives? Device { get; init; }

    /// <summary>Replaces every gradient by Σ over the ranks of <paramref name="share"/>·gradient, where share is this
    /// rank's rows over the global batch's.</summary>
    public void Run(float share)
    {
        if (_world.Size == 1) return;
        if (FixedOrder)
        {
            RunInRankOrder(share);
            return;
        }
        if (Device is { } device)
        {
            foreach (var bucket in _buckets) device.Group(() => { foreach (var p in bucket) ReduceOnDevice(device, p, share); });
            return;
        }
        var requests = new ReduceRequest[_buckets.Count];
        int offset = 0;
        for (int b = 0; b < _buckets.Count; b++)
        {
            int start = offset;
            offset = Pack(b, offset, share);
            requests[b] = _world.BeginAllReduceSum(_buffer, start, offset - start);
        }
        offset = 0;
        for (int b = 0; b < _buckets.Count; b++)
        {
            requests[b].Wait();
            offset = Unpack(b, offset);
        }
    }

    private void RunInRankOrder(float share)
    {
        int offset = 0;
        for (int b = 0; b < _buckets.Count; b++) offset = Pack(b, offset, share);
        if (_world.IsRoot) _gathered ??= new float[(long)_world.Size * _buffer.Length];
        _world.GatherEqual<float>(_buffer, _gathered);
        if (_world.IsRoot) SumInOrder(_gathered, _world.Size, _buffer);
        _world.Broadcast<float>(_buffer);
        offset = 0;
        for (int b = 0; b < _buckets.Count; b++) offset = Unpack(b, offset);
    }

    /// <summary><paramref name="sum"/>[i] = ((g_0[i] + g_1[i]) + g_2[i]) + …, left to right, rank r's values g_r
    /// being <paramref name="gathered"/>[r·L, (r + 1)·L) with L the length of <paramref name="sum"/>.</summary>
    public static void SumInOrder(ReadOnlySpan<float> gathered, int ranks, Span<float> sum)
    {
        int n = sum.Length;
        gathered[..n].CopyTo(sum);
        for (int r = 1; r < ranks; r++)
        {
            var add = gathered.Slice(r * n, n);
            for (int i = 0; i < n; i++) sum[i] += add[i];
        }
    }

    private static void ReduceOnDevice(IDeviceCollectives device, Parameter p, float share)
    {
        if (p.Grad is null)
        {
            using var zero = Tensor.Zeros(p.Value.Backend, p.Value.Shape.Dims.ToArray());
            p.AccumulateGrad(zero);
        }
        var g = p.Grad!;
        if (share != 1f) g.Backend.Axpby(share, g, 0f, g); // share·g + 0·g: the host path's g·share, one rounding
        device.AllReduceSum(g);
    }

    /// <summary>Bucket <paramref name="b"/>'s gradients, scaled, into the buffer from <paramref name="offset"/>.</summary>
    private int Pack(int b, int offset, float share)
    {
        foreach (var p in _buckets[b])
        {
            var span = _buffer.AsSpan(offset, (int)p.Value.Length);
            if (p.Grad is null) span.Clear();
            else
            {
                p.Grad.Backend.CopyOut(p.Grad.Storage, span);
                if (share != 1f) foreach (ref float v in span) v *= share;
            }
            offset += span.Length;
        }
        return offset;
    }

    /// <summary>The buffer's sums from <paramref name="offset"/> back into bucket <paramref name="b"/>'s gradients.</summary>
    private int Unpack(int b, int offset)
    {
        foreach (var p in _buckets[b])
        {
            var span = _buffer.AsSpan(offset, (int)p.Value.Length);
            if (p.Grad is null)
            {
                using var g = Tensor.FromArray<float>(p.Value.Backend, span, p.Value.Shape.Dims.ToArray());
                p.AccumulateGrad(g);
            }
            else p.Grad.Backend.CopyIn<float>(p.Grad.Storage, span);
            offset += span.Length;
        }
        return offset;
    }
}
