using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using AdvRobust.Distributed.Interop;

namespace AdvRobust.Distributed;

/// <summary>
/// This process as one rank of MPI_COMM_WORLD. <see cref="Initialize"/> calls MPI_Init_thread asking for
/// MPI_THREAD_SERIALIZED (the engine makes MPI calls from one thread at a time, not always the main one);
/// <see cref="Finish"/> calls MPI_Finalize. Open MPI's default error handler (MPI_ERRORS_ARE_FATAL) ends the job on a
/// failed call; a non-zero return that gets here anyway becomes an <see cref="MpiException"/>.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private MpiCommunicator(int rank, int size, string library, string host) =>
        (Rank, Size, Library, Host) = (rank, size, library, host);

    public int Rank { get; }
    public int Size { get; }

    /// <summary>MPI_Get_library_version's first line, e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ...".</summary>
    public string Library { get; }

    public string Host { get; }

    public string Describe() => $"MPI rank {Rank} of {Size} on {Host} ({Library.Split(',')[0]})";

    public static MpiCommunicator Initialize()
    {
        Check(Mpi.MPI_Initialized(out int already));
        if (already == 0)
        {
            Check(Mpi.MPI_Init_thread(null, null, Mpi.MPI_THREAD_SERIALIZED, out int provided));
            if (provided < Mpi.MPI_THREAD_SERIALIZED)
                throw new MpiException($"MPI_Init_thread provided thread level {provided}, below " +
                                       "MPI_THREAD_SERIALIZED (2) that the engine needs");
        }
        Check(Mpi.MPI_Comm_rank(MpiHandles.CommWorld, out int rank));
        Check(Mpi.MPI_Comm_size(MpiHandles.CommWorld, out int size));
        var buffer = stackalloc byte[8192];
        Check(Mpi.MPI_Get_library_version(buffer, out int length));
        string library = Encoding.UTF8.GetString(buffer, length).Split('\n')[0].Trim();
        Check(Mpi.MPI_Get_processor_name(buffer, out length));
        return new MpiCommunicator(rank, size, library, Encoding.UTF8.GetString(buffer, length));
    }

    /// <summary>MPI_Finalize, unless it already ran.</summary>
    public static void Finish()
    {
        Check(Mpi.MPI_Finalized(out int done));
        if (done == 0) Check(Mpi.MPI_Finalize());
    }

    public void AllReduceSum<T>(Span<T> data) where T : unmanaged => AllReduce(data, MpiHandles.Sum);
    public void AllReduceMax<T>(Span<T> data) where T : unmanaged => AllReduce(data, MpiHandles.Max);

    private static void AllReduce<T>(Span<T> data, nint op) where T : unmanaged
    {
        if (data.IsEmpty) return;
        fixed (T* p = data)
            Check(Mpi.MPI_Allreduce((void*)Mpi.MPI_IN_PLACE, p, data.Length, MpiHandles.Of<T>(), op,
                MpiHandles.CommWorld));
    }

    public ReduceRequest BeginAllReduceSum(float[] pinned, int offset, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if ((uint)count > (uint)(pinned.Length - offset)) throw new ArgumentOutOfRangeException(nameof(count));
        // The array is pinned (GC.AllocateArray(pinned: true)), so its address stays valid until Wait.
        float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned)) + offset;
        Check(Mpi.MPI_Iallreduce((void*)Mpi.MPI_IN_PLACE, p, count, MpiHandles.Float, MpiHandles.Sum,
            MpiHandles.CommWorld, out nint request));
        return new Pending(request);
    }

    private sealed class Pending(nint request) : ReduceRequest
    {
        private nint _request = request;

        public override void Wait()
        {
            if (_request == 0) return;
            Check(Mpi.MPI_Wait(ref _request, Mpi.MPI_STATUS_IGNORE));
            _request = 0;
        }

        public override bool Test()
        {
            if (_request == 0) return true;
            Check(Mpi.MPI_Test(ref _request, out int done, Mpi.MPI_STATUS_IGNORE));
            if (done != 0) _request = 0; // MPI_Test freed the request and set the handle to MPI_REQUEST_NULL
            return done != 0;
        }
    }

    public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(data);
        if (bytes.IsEmpty) return;
        fixed (byte* p = bytes)
            Check(Mpi.MPI_Bcast(p, bytes.Length, MpiHandles.Byte, root, MpiHandles.CommWorld));
    }

    public T[][]? Gather<T>(ReadOnlySpan<T> mine, int root = 0) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(mine);
        int count = bytes.Length;
        var counts = new int[Size];
        fixed (int* c = counts)
            Check(Mpi.MPI_Gather(&count, 1, MpiHandles.Int, c, 1, MpiHandles.Int, root, MpiHandles.CommWorld));
        var displacements = new int[Size];
        long total = 0;
        for (int r = 0; r < Size; r++)
        {
            displacements[r] = (int)total;
            total += counts[r];
        }
        if (total > int.MaxValue) throw new MpiException($"a gather of {total} bytes passes MPI's int counts");
        var all = new byte[Rank == root ? total : 0];
        fixed (byte* s = bytes)
        fixed (byte* a = all)
        fixed (int* c = counts)
        fixed (int* d = displacements)
            Check(Mpi.MPI_Gatherv(s, count, MpiHandles.Byte, a, c, d, MpiHandles.Byte, root, MpiHandles.CommWorld));
        if (Rank != root) return null;
        var result = new T[Size][];
        for (int r = 0; r < Size; r++)
            result[r] = MemoryMarshal.Cast<byte, T>(all.AsSpan(displacements[r], counts[r])).ToArray();
        return result;
    }

    public void GatherEqual<T>(ReadOnlySpan<T> mine, Span<T> all, int root = 0) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(mine);
        var into = MemoryMarshal.AsBytes(all);
        if (Rank == root && (long)into.Length < (long)bytes.Length * Size)
            throw new ArgumentException($"{into.Length} bytes cannot hold {Size} × {bytes.Length}");
        fixed (byte* s = bytes)
        fixed (byte* a = into)
            Check(Mpi.MPI_Gather(s, bytes.Length, MpiHandles.Byte, a, bytes.Length, MpiHandles.Byte, root,
                MpiHandles.CommWorld));
    }

    public void Barrier() => Check(Mpi.MPI_Barrier(MpiHandles.CommWorld));

    public void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        Mpi.MPI_Abort(MpiHandles.CommWorld, exitCode);
        Environment.Exit(exitCode);
    }

    /// <summary>The one error chokepoint: a non-zero MPI return as an <see cref="MpiException"/> with the call text
    /// and MPI's own message.</summary>
    private static void Check(int code, [CallerArgumentExpression(nameof(code))] string? call = null)
    {
        if (code == Mpi.MPI_SUCCESS) return;
        var buffer = stackalloc byte[Mpi.MPI_MAX_ERROR_STRING];
        string text = Mpi.MPI_Error_string(code, buffer, out int length) == Mpi.MPI_SUCCESS
            ? Encoding.UTF8.GetString(buffer, length)
            : "unknown error";
        throw new MpiException($"{call} failed with MPI error {code}: {text}");
    }
}
