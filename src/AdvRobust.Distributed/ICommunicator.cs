namespace AdvRobust.Distributed;

/// <summary>
/// The processes of one run and the collectives the engine needs between them: rank <see cref="Rank"/> of
/// <see cref="Size"/>. <see cref="SingleProcess"/> is the world of one (every collective is the identity, nothing is
/// loaded); <see cref="MpiCommunicator"/> is one rank of an Open MPI job. Every collective must be called by every rank,
/// in the same order, with the same counts (the gathers excepted, whose counts may differ per rank).
/// </summary>
public interface ICommunicator
{
    int Rank { get; }
    int Size { get; }

    /// <summary>Rank 0, the one that writes outputs and prints.</summary>
    bool IsRoot => Rank == 0;

    /// <summary>E.g. "MPI rank 1 of 2 on node7 (Open MPI v4.1.4)" or "single process".</summary>
    string Describe();

    /// <summary>Element-wise sum over the ranks, in place; every rank gets the result.</summary>
    void AllReduceSum<T>(Span<T> data) where T : unmanaged;

    /// <summary>Element-wise maximum over the ranks, in place.</summary>
    void AllReduceMax<T>(Span<T> data) where T : unmanaged;

    /// <summary>Starts an in-place sum of <paramref name="count"/> floats of a pinned array from
    /// <paramref name="offset"/>; the array must stay untouched until the returned request's Wait.</summary>
    ReduceRequest BeginAllReduceSum(float[] pinned, int offset, int count);

    /// <summary>Rank <paramref name="root"/>'s values to every rank, in place.</summary>
    void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged;

    /// <summary>Each rank's values (any length) to <paramref name="root"/>, in rank order; null on the other ranks.</summary>
    T[][]? Gather<T>(ReadOnlySpan<T> mine, int root = 0) where T : unmanaged;

    /// <summary>Every rank's <paramref name="mine"/>, all of one length L, into <paramref name="all"/> on
    /// <paramref name="root"/> (rank r's at r·L; K·L long there, ignored elsewhere), without allocating.</summary>
    void GatherEqual<T>(ReadOnlySpan<T> mine, Span<T> all, int root = 0) where T : unmanaged
    {
        var parts = Gather(mine, root);
        if (parts is null) return;
        for (int r = 0; r < parts.Length; r++) parts[r].CopyTo(all[(r * mine.Length)..]);
    }

    void Barrier();

    /// <summary>Ends every rank of the job with <paramref name="exitCode"/> (one rank failed; the others would wait
    /// in their next collective forever).</summary>
    void Abort(int exitCode);
}

/// <summary>An all-reduce in flight; <see cref="Wait"/> returns when its buffer holds the result.</summary>
public abstract class ReduceRequest
{
    public static readonly ReduceRequest Done = new Completed();

    public abstract void Wait();

    /// <summary>Whether the result is there, without waiting (MPI_Test); each call also lets MPI progress the
    /// transfer, which Open MPI otherwise advances only inside MPI calls.</summary>
    public virtual bool Test()
    {
        Wait();
        return true;
    }

    private sealed class Completed : ReduceRequest
    {
        public override void Wait() { }
    }
}

/// <summary>The world of one process: every collective leaves its data as it is.</summary>
public sealed class SingleProcess : ICommunicator
{
    public static readonly SingleProcess Instance = new();

    private SingleProcess() { }

    public int Rank => 0;
    public int Size => 1;
    public string Describe() => "single process";
    public void AllReduceSum<T>(Span<T> data) where T : unmanaged { }
    public void AllReduceMax<T>(Span<T> data) where T : unmanaged { }
    public ReduceRequest BeginAllReduceSum(float[] pinned, int offset, int count) => ReduceRequest.Done;
    public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged => CheckRoot(root);

    public T[][]? Gather<T>(ReadOnlySpan<T> mine, int root = 0) where T : unmanaged
    {
        CheckRoot(root);
        return [mine.ToArray()];
    }

    public void Barrier() { }
    public void Abort(int exitCode) => Environment.Exit(exitCode);

    private static void CheckRoot(int root)
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), root, "a single process has only rank 0");
    }
}
