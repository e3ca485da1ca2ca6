using System.Runtime.InteropServices;

namespace AdvRobust.Distributed.Interop;

// Raw declarations of the MPI C API as Open MPI 4.x (libmpi.so.40) exports it (mpi.h). C names verbatim, no logic.
// In Open MPI the predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of exported global
// objects (ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_op_sum, ...); MpiHandles reads them with
// NativeLibrary.GetExport. MPI_IN_PLACE is (void*)1 and MPI_STATUS_IGNORE is NULL.

#pragma warning disable CA1707, IDE1006
public static unsafe partial class Mpi
{
    private const string Lib = MpiLibrary.Name;

    public const int MPI_SUCCESS = 0;
    public const int MPI_THREAD_SINGLE = 0;
    public const int MPI_THREAD_FUNNELED = 1;
    public const int MPI_THREAD_SERIALIZED = 2;
    public const int MPI_MAX_ERROR_STRING = 256;
    public static readonly nint MPI_IN_PLACE = 1;
    public static readonly nint MPI_STATUS_IGNORE = 0;

    [LibraryImport(Lib)] public static partial int MPI_Init_thread(int* argc, byte*** argv, int required, out int provided);
    [LibraryImport(Lib)] public static partial int MPI_Initialized(out int flag);
    [LibraryImport(Lib)] public static partial int MPI_Finalized(out int flag);
    [LibraryImport(Lib)] public static partial int MPI_Finalize();
    [LibraryImport(Lib)] public static partial int MPI_Abort(nint comm, int errorcode);
    [LibraryImport(Lib)] public static partial int MPI_Comm_rank(nint comm, out int rank);
    [LibraryImport(Lib)] public static partial int MPI_Comm_size(nint comm, out int size);
    [LibraryImport(Lib)] public static partial int MPI_Barrier(nint comm);
    [LibraryImport(Lib)]
    public static partial int MPI_Allreduce(void* sendbuf, void* recvbuf, int count, nint datatype, nint op, nint comm);
    [LibraryImport(Lib)]
    public static partial int MPI_Iallreduce(void* sendbuf, void* recvbuf, int count, nint datatype, nint op, nint comm,
        out nint request);
    [LibraryImport(Lib)] public static partial int MPI_Wait(ref nint request, nint status);
    [LibraryImport(Lib)] public static partial int MPI_Test(ref nint request, out int flag, nint status);
    [LibraryImport(Lib)] public static partial int MPI_Bcast(void* buffer, int count, nint datatype, int root, nint comm);
    [LibraryImport(Lib)]
    public static partial int MPI_Gather(void* sendbuf, int sendcount, nint sendtype, void* recvbuf, int recvcount,
        nint recvtype, int root, nint comm);
    [LibraryImport(Lib)]
    public static partial int MPI_Gatherv(void* sendbuf, int sendcount, nint sendtype, void* recvbuf, int* recvcounts,
        int* displs, nint recvtype, int root, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Error_string(int errorcode, byte* str, out int resultlen);
    [LibraryImport(Lib)] public static partial int MPI_Get_library_version(byte* version, out int resultlen);
    [LibraryImport(Lib)] public static partial int MPI_Get_processor_name(byte* name, out int resultlen);
}
#pragma warning restore CA1707, IDE1006
