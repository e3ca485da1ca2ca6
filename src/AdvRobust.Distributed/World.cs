using System.Globalization;

namespace AdvRobust.Distributed;

/// <summary>
/// The communicator of this process, chosen once from how it was started: under <c>mpirun -n K</c> (K &gt; 1) Open MPI
/// sets OMPI_COMM_WORLD_SIZE and OMPI_COMM_WORLD_RANK; under Slurm's <c>srun</c> (with --mpi=pmix), SLURM_STEP_NUM_TASKS
/// and SLURM_PROCID. Then <see cref="Current"/> initializes MPI and is an <see cref="MpiCommunicator"/>; otherwise it
/// is <see cref="SingleProcess"/> and libmpi is never loaded (also under <c>mpirun -n 1</c>).
/// </summary>
public static class World
{
    private static ICommunicator? _current;
    private static readonly Lock Gate = new();

    /// <summary>The ranks the launcher announced (1 when there is none).</summary>
    public static int LaunchedSize => Read("OMPI_COMM_WORLD_SIZE") ?? Read("SLURM_STEP_NUM_TASKS") ?? 1;

    /// <summary>This process's rank as the launcher announced it (0 when there is none), known before MPI starts.</summary>
    public static int LaunchedRank => LaunchedSize <= 1 ? 0
        : Read("OMPI_COMM_WORLD_RANK") ?? Read("SLURM_PROCID") ?? 0;

    /// <summary>This process's rank among those on its node (OMPI_COMM_WORLD_LOCAL_RANK, Slurm's SLURM_LOCALID; 0 when
    /// there is no launcher): a GPU rank takes device <see cref="DeviceFor"/>(local rank, device count).</summary>
    public static int LaunchedLocalRank => LaunchedSize <= 1 ? 0
        : Read("OMPI_COMM_WORLD_LOCAL_RANK") ?? Read("SLURM_LOCALID") ?? 0;

    /// <summary>The device of local rank <paramref name="localRank"/> among <paramref name="devices"/>: round robin.</summary>
    public static int DeviceFor(int localRank, int devices)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(localRank);
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);
        return localRank % devices;
    }

    public static ICommunicator Current
    {
        get
        {
            lock (Gate)
            {
                if (_current is not null) return _current;
                if (LaunchedSize <= 1) return _current = SingleProcess.Instance;
                var mpi = MpiCommunicator.Initialize();
                if (mpi.Size != LaunchedSize)
                    throw new Interop.MpiException($"the launcher announced {LaunchedSize} ranks but MPI_COMM_WORLD " +
                                                   $"has {mpi.Size}");
                return _current = mpi;
            }
        }
    }

    /// <summary>True once <see cref="Current"/> is an MPI rank of a job of more than one.</summary>
    public static bool IsDistributed => _current is { Size: > 1 };

    /// <summary>Finalizes MPI when it was initialized; called once, as the process ends normally.</summary>
    public static void Finish()
    {
        if (_current is MpiCommunicator) MpiCommunicator.Finish();
    }

    private static int? Read(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture,
            out int v) ? v : null;
}
