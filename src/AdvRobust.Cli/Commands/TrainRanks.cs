using System.Text;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Distributed;
using AdvRobust.Research.Training;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `mpirun -n K advrobust train`: what the train command does for a data-parallel run (<see cref="DataParallel"/>).
/// Rank 0 alone writes the run folder. Every other rank runs the same trainer against a shadow folder of its own in
/// the temporary directory (deleted when it ends), so the trainer needs no "am I rank 0" branches; on --resume the
/// shadow starts as a copy of the run's manifest, metrics and checkpoints, taken after rank 0 has opened (tidied) the
/// real folder. The manifest records the world size and each rank's host and device, and --resume refuses another
/// world size (the shards, and so the run, would differ).
/// </summary>
internal static class TrainRanks
{
    /// <summary>
    /// A CUDA rank's device collectives: NCCL (real, or the emulator's stand-in under ADVROBUST_CUDA=emulator) joined
    /// with the unique id broadcast over MPI, or null with the reason (libnccl missing, or ADVROBUST_NCCL=0, which
    /// forces the host MPI path). Every rank decides alike (the same environment), so all join or none do.
    /// </summary>
    public static NcclCollectives? DeviceCollectives(CudaBackend backend, ICommunicator world, out string note)
    {
        note = "ADVROBUST_NCCL=0: gradients are all-reduced over MPI through the host";
        if (Environment.GetEnvironmentVariable("ADVROBUST_NCCL") == "0") return null;
        if (NcclCommunicator.Unavailable() is { } why)
        {
            note = $"{why} Gradients are all-reduced over MPI through the host.";
            return null;
        }
        var comm = NcclCommunicator.Create(world.Rank, world.Size, id => world.Broadcast(id));
        var device = new NcclCollectives(comm, backend);
        note = $"gradients all-reduced on the device with {device.Name} (per tensor, one group per bucket, " +
            (Overlap() ? "on a second stream while backward runs" : "after backward: ADVROBUST_GRADIENT_OVERLAP=0") +
            "); parameters broadcast with ncclBroadcast";
        return device;
    }

    /// <summary>Whether gradient buckets are all-reduced while backward runs (the default) or after it
    /// (ADVROBUST_GRADIENT_OVERLAP=0, the path before overlapping; the same bits either way).</summary>
    public static bool Overlap() => Environment.GetEnvironmentVariable("ADVROBUST_GRADIENT_OVERLAP") != "0";

    /// <summary><see cref="IDeviceCollectives"/> over an <see cref="NcclCommunicator"/>: on the backend's stream, or
    /// inside <see cref="OnCommunicationStream"/> on a <see cref="SideStream"/> of its own.</summary>
    public sealed class NcclCollectives(NcclCommunicator comm, CudaBackend backend) : IDeviceCollectives, IDisposable
    {
        private SideStream? _side;
        private bool _onSide;

        public string Name { get; } = NcclCommunicator.Version();

        private nint Stream => (_onSide ? _side!.Stream : backend.Context.Stream).DangerousGetHandle();

        private static ulong Pointer(Tensor t) => ((CudaStorage)t.Storage).Pointer;

        public void AllReduceSum(Tensor t) => comm.AllReduceSum(Pointer(t), t.Length, Stream);

        public void Broadcast(Tensor t, int root) => comm.Broadcast(Pointer(t), t.Length, root, Stream);

        public void Group(Action collectives) => comm.Group(collectives);

        public void OnCommunicationStream(Action collectives)
        {
            _side ??= new SideStream(backend.Context);
            _side.Fork();
            _onSide = true;
            try
            {
                collectives();
            }
            finally
            {
                _onSide = false;
            }
        }

        public void WaitForCommunication() => _side?.Join();

        public void Dispose()
        {
            comm.Dispose();
            _side?.Dispose();
        }
    }

    /// <summary>Rank 0: the run folder itself; another rank: its shadow copy (see the class summary).</summary>
    public static RunDirectory OpenForResume(string folder, ICommunicator world)
    {
        RunDirectory? run = world.IsRoot ? RunDirectory.Open(folder) : null;
        world.Barrier();
        if (run is not null) return run;
        string shadow = ShadowPath(world);
        Directory.CreateDirectory(shadow);
        foreach (string file in Directory.EnumerateFiles(folder))
            File.Copy(file, Path.Combine(shadow, Path.GetFileName(file)), overwrite: true);
        return RunDirectory.Open(shadow);
    }

    /// <summary>Rank 0: a new run folder at <paramref name="output"/>; another rank: an empty shadow folder.</summary>
    public static RunDirectory Create(string output, ICommunicator world) =>
        RunDirectory.Create(world.IsRoot ? output : ShadowPath(world));

    /// <summary>Removes a non-root rank's shadow folder.</summary>
    public static void Cleanup(ICommunicator world)
    {
        if (!world.IsRoot && Directory.Exists(ShadowPath(world))) Directory.Delete(ShadowPath(world), recursive: true);
    }

    /// <summary>Throws on every rank when a resumed run was started with another world size.</summary>
    public static void CheckWorldSize(RunDirectory run, ICommunicator world)
    {
        var manifest = run.ReadManifest();
        var last = manifest.Resumptions.Count > 0 ? manifest.Resumptions[^1].Environment : manifest.Environment;
        int size = last.WorldSize ?? 1;
        if (size != world.Size)
            throw new ArgumentException($"{run.Path} was trained with {size} rank{(size == 1 ? "" : "s")} and is being " +
                $"resumed with {world.Size}: each step's batch is split by the world size, so resume it with " +
                $"{(size == 1 ? "one process (no mpirun)" : $"mpirun -n {size}")}");
    }

    /// <summary>
    /// Refuses a split that would leave a rank a step with no rows (a global batch of fewer images than ranks, or,
    /// with data.dropLast off, a short last batch of fewer than K): its objective would average over nothing. Every
    /// rank checks the same numbers, so every rank stops with the same message (no rank waits in a collective).
    /// </summary>
    public static void CheckShards(int batchSize, int trainImages, bool dropLast, ICommunicator world)
    {
        if (world.Size == 1) return;
        int last = trainImages % batchSize;
        int smallest = dropLast || last == 0 ? batchSize : Math.Min(batchSize, last);
        if (smallest < world.Size)
            throw new ArgumentException($"a step of {smallest} image{(smallest == 1 ? "" : "s")} " +
                $"({(smallest == batchSize ? "batchSize" : "the last, short batch: data.dropLast is off")}) cannot be " +
                $"split over {world.Size} ranks: every rank needs at least one image per step; use fewer ranks, a " +
                "larger batch" + (smallest == batchSize ? "" : ", or data.dropLast"));
    }

    /// <summary>The environment with the world size and every rank's "rank r: host, backend device" (a collective).</summary>
    public static RunEnvironment WithRanks(RunEnvironment environment, IBackend backend, ICommunicator world)
    {
        string mine = $"rank {world.Rank}: {System.Net.Dns.GetHostName()}, {backend.Name} {backend.DeviceName}";
        var all = world.Gather<byte>(Encoding.UTF8.GetBytes(mine));
        return environment with
        {
            WorldSize = world.Size,
            Ranks = all?.Select(b => Encoding.UTF8.GetString(b)).ToArray(),
        };
    }

    private static string ShadowPath(ICommunicator world) => Path.Combine(Path.GetTempPath(),
        $"advrobust-rank{world.Rank}-{Environment.ProcessId}");
}
