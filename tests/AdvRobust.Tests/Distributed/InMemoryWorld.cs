using System.Runtime.InteropServices;
using AdvRobust.Distributed;

namespace AdvRobust.Tests.Distributed;

/// <summary>
/// K ranks as threads of this process, with MPI's matching rule checked: every collective a rank calls takes the
/// rank's next sequence number, and the calls with one number must be the same collective with the same count on every
/// rank (else the call throws, naming both), as MPI requires of blocking and non-blocking collectives alike. A sum
/// adds the ranks' values in rank order ((x_0 + x_1) + x_2 …); a non-blocking all-reduce
/// (<see cref="ICommunicator.BeginAllReduceSum"/>) publishes its values when it starts and sums when waited for, or
/// when tested once every rank has started it. <see cref="Log"/> holds each rank's calls in order.
/// </summary>
internal sealed class InMemoryWorld(int size)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly object _gate = new();
    private readonly List<Call> _calls = [];
    private readonly List<string>[] _logs = Enumerable.Range(0, size).Select(_ => new List<string>()).ToArray();

    public int Size => size;

    public ICommunicator Rank(int rank) => new Member(this, rank);

    /// <summary>Rank <paramref name="rank"/>'s collectives in call order, e.g. "iallreduce float×1234".</summary>
    public IReadOnlyList<string> Log(int rank) => _logs[rank];

    private sealed class Call(string what, int ranks)
    {
        public string What { get; } = what;
        public Array?[] Parts { get; } = new Array?[ranks];
    }

    private int Publish(int rank, int sequence, string what, Array part)
    {
        lock (_gate)
        {
            while (_calls.Count <= sequence) _calls.Add(new Call(what, size));
            var call = _calls[sequence];
            if (call.What != what)
                throw new InvalidOperationException(
                    $"collective #{sequence}: rank {rank} calls {what}, another rank called {call.What}");
            call.Parts[rank] = part;
            _logs[rank].Add(what);
            Monitor.PulseAll(_gate);
            return sequence;
        }
    }

    private bool Arrived(int sequence)
    {
        lock (_gate) return _calls[sequence].Parts.All(p => p is not null);
    }

    private Array[] Collect(int sequence)
    {
        lock (_gate)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (!_calls[sequence].Parts.All(p => p is not null))
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_gate, left))
                    throw new TimeoutException($"collective #{sequence} ({_calls[sequence].What}): a rank never came");
            }
            return _calls[sequence].Parts!;
        }
    }

    private sealed class Member(InMemoryWorld world, int rank) : ICommunicator
    {
        private int _next;

        public int Rank => rank;
        public int Size => world.Size;
        public string Describe() => $"in-memory rank {rank} of {world.Size}";

        public void AllReduceSum<T>(Span<T> data) where T : unmanaged => Reduce(data, "allreduce-sum", max: false);

        public void AllReduceMax<T>(Span<T> data) where T : unmanaged => Reduce(data, "allreduce-max", max: true);

        private void Reduce<T>(Span<T> data, string name, bool max) where T : unmanaged
        {
            int seq = world.Publish(rank, _next++, $"{name} {typeof(T).Name}×{data.Length}", data.ToArray());
            var parts = world.Collect(seq);
            if (typeof(T) == typeof(float)) Combine(parts.Cast<float[]>(), MemoryMarshal.Cast<T, float>(data), max);
            else if (typeof(T) == typeof(double))
                Combine(parts.Cast<double[]>(), MemoryMarshal.Cast<T, double>(data), max);
            else if (typeof(T) == typeof(int)) Combine(parts.Cast<int[]>(), MemoryMarshal.Cast<T, int>(data), max);
            else throw new NotSupportedException(typeof(T).Name);
        }

        private static void Combine<T>(IEnumerable<T[]> parts, Span<T> into, bool max)
            where T : System.Numerics.INumber<T>
        {
            bool first = true;
            foreach (var part in parts)
            {
                for (int i = 0; i < into.Length; i++)
                    into[i] = first ? part[i] : max ? T.Max(into[i], part[i]) : into[i] + part[i];
                first = false;
            }
        }

        public ReduceRequest BeginAllReduceSum(float[] pinned, int offset, int count)
        {
            int seq = world.Publish(rank, _next++, $"iallreduce-sum Single×{count}", pinned[offset..(offset + count)]);
            return new Pending(world, seq, pinned, offset, count);
        }

        private sealed class Pending(InMemoryWorld world, int seq, float[] buffer, int offset, int count) : ReduceRequest
        {
            private bool _done;

            public override void Wait()
            {
                if (_done) return;
                Combine(world.Collect(seq).Cast<float[]>(), buffer.AsSpan(offset, count), max: false);
                _done = true;
            }

            public override bool Test()
            {
                if (!_done && world.Arrived(seq)) Wait();
                return _done;
            }
        }

        public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged
        {
            int seq = world.Publish(rank, _next++, $"broadcast {typeof(T).Name}×{data.Length} from {root}", data.ToArray());
            ((T[])world.Collect(seq)[root]).CopyTo(data);
        }

        public T[][]? Gather<T>(ReadOnlySpan<T> mine, int root = 0) where T : unmanaged
        {
            int seq = world.Publish(rank, _next++, $"gather {typeof(T).Name} to {root}", mine.ToArray());
            var parts = world.Collect(seq);
            return rank == root ? parts.Cast<T[]>().ToArray() : null;
        }

        public void Barrier() => world.Collect(world.Publish(rank, _next++, "barrier", Array.Empty<byte>()));

        public void Abort(int exitCode) => throw new InvalidOperationException($"rank {rank} aborted ({exitCode})");
    }
}
