using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Distributed;

/// <summary>
/// Sums the ranks' gradients bucket by bucket, so that every rank steps with the gradient of the global batch. The
/// parameters are grouped, in the reverse of their declaration order (about the order backward finishes them: last
/// layer first), into buckets of about <see cref="BucketBytes"/>.
///
/// Overlapped with backward (<see cref="BeginStep"/>, the default of a data-parallel step): the tape reports each
/// parameter whose gradient is final (<see cref="Tape.Backward"/>'s hook); a bucket is ready when all its parameters
/// are, and its reduction starts then, while the rest of backward runs: on the host its gradients are copied into a
/// pinned buffer, scaled by this rank's share of the global batch, and MPI_Iallreduce started; each later report tests
/// the oldest outstanding request (MPI_Test), which is what makes Open MPI progress the transfers; <see cref="Run"/>,
/// after backward, starts the buckets still waiting (parameters that got no gradient), waits for each in order and
/// copies the sums back. Buckets start in list order on every rank (MPI needs the same collective order): a bucket
/// ready before an earlier one waits until the earlier one has started. With device collectives (NCCL on CUDA ranks)
/// a ready bucket's gradients are scaled on the compute stream and all-reduced on the collectives' own stream after
/// an event of the compute stream (<see cref="IDeviceCollectives.OnCommunicationStream"/>); after backward the compute
/// stream waits for that stream before the update.
///
/// After backward (no <see cref="BeginStep"/>, <see cref="Overlap"/> off, or <see cref="FixedOrder"/>): the same
/// buckets packed, started and waited for in one go once the tape is done; on the device, on the compute stream.
///
/// Scaling: each objective's loss is the mean over its rows, so a rank's gradient is the mean over its shard of
/// b_r rows; the global batch's mean gradient is Σ_r (b_r / B)·g_r, hence each rank multiplies by b_r / B before the
/// sum. With equal shards the factor is 1/K, exact for K a power of two. Either way each bucket is the same values
/// reduced by the same call, so overlapping changes no bit.
/// </summary>
public sealed class GradientAllReduce
{
    private readonly ICommunicator _world;
    private readonly List<Parameter[]> _buckets = [];
    private readonly float[] _buffer;
    private float[]? _gathered; // rank 0 in fixed-order mode: every rank's buffer, in rank order
    private readonly Dictionary<Parameter, (int Bucket, int Index)> _where = new(ReferenceEqualityComparer.Instance);
    private readonly int[] _offsets;      // each bucket's first value in the buffer
    private readonly int[] _waiting;      // per bucket: parameters whose gradient is not final yet in this step
    private readonly bool[] _ready;       // per parameter (bucket order): final in this step
    private readonly ReduceRequest?[] _requests;
    private int _started = -1;            // buckets started in this step; -1: no overlapped step open
    private int _oldest;                  // the first started bucket whose host request may still be in flight
    private float _share;

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
        _offsets = new int[_buckets.Count];
        int offset = 0, index = 0;
        for (int b = 0; b < _buckets.Count; b++)
        {
            _offsets[b] = offset;
            foreach (var p in _buckets[b])
            {
                _where[p] = (b, index++);
                offset += (int)p.Value.Length;
            }
        }
        (_waiting, _ready, _requests) = (new int[_buckets.Count], new bool[index], new ReduceRequest?[_buckets.Count]);
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
    /// no host copies: overlapped with backward on the collectives' own stream (see the class summary), or after it
    /// on the backend's stream.
    /// </summary>
    public IDeviceCollectives? Device { get; init; }

    /// <summary>Start each bucket's reduction from backward as soon as its gradients are final (<see cref="BeginStep"/>);
    /// off: every bucket after backward. Fixed-order mode always reduces after backward.</summary>
    public bool Overlap { get; init; } = true;

    /// <summary>In the open step: buckets started from <see cref="GradientReady"/>, i.e. while backward ran.</summary>
    public int StartedDuringBackward { get; private set; }

    /// <summary>
    /// Opens a step whose reduction overlaps backward: returns the hook to hand to <see cref="Tape.Backward"/>
    /// (<see cref="GradientReady"/>), or null when nothing is to overlap (one rank, <see cref="FixedOrder"/>, or
    /// <see cref="Overlap"/> off). <see cref="Run"/> with the same <paramref name="share"/> closes the step.
    /// </summary>
    public Action<Parameter>? BeginStep(float share)
    {
        if (_world.Size == 1 || FixedOrder || !Overlap) return null;
        if (_started >= 0) throw new InvalidOperationException("the previous step's reduction was never finished (Run)");
        for (int b = 0; b < _buckets.Count; b++) _waiting[b] = _buckets[b].Length;
        Array.Clear(_ready);
        Array.Clear(_requests);
        (_started, _oldest, _share, StartedDuringBackward) = (0, 0, share, 0);
        return GradientReady;
    }

    /// <summary>The tape's report that <paramref name="p"/>'s gradient is final: starts every bucket that is ready and
    /// whose predecessors have started, else lets MPI progress the ones in flight.</summary>
    public void GradientReady(Parameter p)
    {
        if (_started < 0) throw new InvalidOperationException("no step is open (BeginStep)");
        if (!_where.TryGetValue(p, out var at)) return; // not reduced here (frozen, or not this model's)
        if (_ready[at.Index])
            throw new InvalidOperationException($"{p.Name}: its gradient was reported final twice in one step; an " +
                "overlapped data-parallel step runs one backward pass with parameter gradients");
        _ready[at.Index] = true;
        _waiting[at.Bucket]--;
        int before = _started;
        while (_started < _buckets.Count && _waiting[_started] == 0) Start(_started++);
        StartedDuringBackward += _started - before;
        if (_started == before) Progress();
    }

    /// <summary>Replaces every gradient by Σ over the ranks of <paramref name="share"/>·gradient, where share is this
    /// rank's rows over the global batch's. After <see cref="BeginStep"/>: finishes the step's reduction (starts what
    /// has not started, waits, copies back; on the device, makes the compute stream wait for the collectives).</summary>
    public void Run(float share)
    {
        if (_world.Size == 1) return;
        if (FixedOrder)
        {
            RunInRankOrder(share);
            return;
        }
        if (_started < 0)
        {
            if (Device is { } device)
            {
                foreach (var bucket in _buckets) device.Group(() => { foreach (var p in bucket) ReduceOnDevice(device, p, share); });
                return;
            }
            // After backward on the host: the overlapped step's machinery with every bucket started now, in order.
            (_started, _oldest, _share) = (0, 0, share);
        }
        FinishStep(share);
    }

    private void Start(int b)
    {
        if (Device is { } device)
        {
            foreach (var p in _buckets[b]) Scale(p, _share);
            device.OnCommunicationStream(() => device.Group(() =>
            {
                foreach (var p in _buckets[b]) device.AllReduceSum(p.Grad!);
            }));
            return;
        }
        int end = Pack(b, _offsets[b], _share);
        _requests[b] = _world.BeginAllReduceSum(_buffer, _offsets[b], end - _offsets[b]);
    }

    /// <summary>MPI_Test on the oldest request in flight (Open MPI moves a non-blocking collective on only inside MPI
    /// calls); the device's collectives need no help.</summary>
    private void Progress()
    {
        while (_oldest < _started && _requests[_oldest] is { } r && r.Test()) _oldest++;
    }

    private void FinishStep(float share)
    {
        if (share != _share) throw new ArgumentException($"the step began with share {_share}, not {share}", nameof(share));
        while (_started < _buckets.Count) Start(_started++);
        _started = -1;
        if (Device is { } device)
        {
            device.WaitForCommunication();
            return;
        }
        for (int b = 0; b < _buckets.Count; b++)
        {
            _requests[b]!.Wait();
            Unpack(b, _offsets[b]);
        }
        Array.Clear(_requests);
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
        Scale(p, share);
        device.AllReduceSum(p.Grad!);
    }

    /// <summary>share·gradient in place on the device (a zero gradient first when the step gave it none).</summary>
    private static void Scale(Parameter p, float share)
    {
        if (p.Grad is null)
        {
            using var zero = Tensor.Zeros(p.Value.Backend, p.Value.Shape.Dims.ToArray());
            p.AccumulateGrad(zero);
        }
        var g = p.Grad!;
        if (share != 1f) g.Backend.Axpby(share, g, 0f, g); // share·g + 0·g: the host path's g·share, one rounding
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
