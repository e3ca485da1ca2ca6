using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// One rank's NCCL communicator over the GPUs of an MPI job: rank 0 makes the 128-byte unique id, the caller's
/// broadcast (over MPI) hands it to every rank, and each rank joins with ncclCommInitRank on its current CUDA context's
/// device. The collectives take device pointers and a stream and are asynchronous on it (float32, in place).
/// <see cref="Unavailable"/> says, without throwing, why NCCL cannot be used (libnccl.so.2 missing), so a caller falls
/// back to the host MPI all-reduce and logs the reason.
/// </summary>
public sealed class NcclCommunicator : IDisposable
{
    /// <summary>Rank <c>root</c>'s bytes to every rank, in place (e.g. MPI_Bcast).</summary>
    public delegate void BroadcastBytes(Span<byte> data);

    private nint _comm;

    private NcclCommunicator(nint comm, int rank, int size) => (_comm, Rank, Size) = (comm, rank, size);

    public int Rank { get; }
    public int Size { get; }

    /// <summary>Null when libnccl loads, else the one message naming the files tried and how to get NCCL.</summary>
    public static string? Unavailable() => NativeLibraries.Probe(NativeLibraries.Nccl).Error;

    /// <summary>NCCL's version, e.g. "NCCL 2.21.5".</summary>
    public static string Version()
    {
        NcclException.Check(Nccl.ncclGetVersion(out int code));
        var (major, minor, patch) = Nccl.DecodeVersion(code);
        return $"NCCL {major}.{minor}.{patch}";
    }

    /// <summary>Joins the job's communicator; every rank must call this together (collective).</summary>
    public static NcclCommunicator Create(int rank, int size, BroadcastBytes broadcastFromRankZero)
    {
        ArgumentNullException.ThrowIfNull(broadcastFromRankZero);
        if (size < 1 || rank < 0 || rank >= size) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {size}");
        ncclUniqueId id = default;
        if (rank == 0) NcclException.Check(Nccl.ncclGetUniqueId(out id));
        broadcastFromRankZero(id);
        NcclException.Check(Nccl.ncclCommInitRank(out nint comm, size, id, rank));
        return new NcclCommunicator(comm, rank, size);
    }

    /// <summary>Sums <paramref name="count"/> floats at <paramref name="buffer"/> over the ranks, in place, queued on
    /// <paramref name="stream"/>.</summary>
    public void AllReduceSum(ulong buffer, long count, nint stream) =>
        NcclException.Check(Nccl.ncclAllReduce(buffer, buffer, (nuint)count, ncclDataType_t.ncclFloat32,
            ncclRedOp_t.ncclSum, Handle, stream));

    /// <summary>Rank <paramref name="root"/>'s floats to every rank, in place, queued on <paramref name="stream"/>.</summary>
    public void Broadcast(ulong buffer, long count, int root, nint stream) =>
        NcclException.Check(Nccl.ncclBroadcast(buffer, buffer, (nuint)count, ncclDataType_t.ncclFloat32, root,
            Handle, stream));

    /// <summary>Several collectives fused into one launch: between ncclGroupStart and ncclGroupEnd.</summary>
    public void Group(Action collectives)
    {
        NcclException.Check(Nccl.ncclGroupStart());
        try
        {
            collectives();
        }
        finally
        {
            NcclException.Check(Nccl.ncclGroupEnd());
        }
    }

    private nint Handle => _comm != 0 ? _comm : throw new ObjectDisposedException(nameof(NcclCommunicator));

    public void Dispose()
    {
        if (_comm == 0) return;
        var result = Nccl.ncclCommDestroy(_comm);
        _comm = 0;
        NcclException.Check(result);
    }
}
