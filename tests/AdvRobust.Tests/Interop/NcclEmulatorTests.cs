using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Interop;

/// <summary>
/// NcclCommunicator against the CUDA emulator's NCCL stand-in (libadvrobust-emu-nccl.so): two ranks as two threads of
/// this process, on emulated device memory of one CUDA backend, joined through an id handed over in memory (an MPI
/// broadcast's role). Ignored without ADVROBUST_CUDA=emulator: real NCCL refuses two ranks on one GPU.
/// </summary>
[Category("Gpu")]
public class NcclEmulatorTests
{
    private const int Ranks = 2;

    [Test]
    public void TwoRanksSumInRankOrderAndBroadcastOnDeviceMemory()
    {
        if (!NativeLibraries.EmulatorSelected) Assert.Ignore("needs ADVROBUST_CUDA=emulator (the NCCL stand-in)");
        var backend = (CudaBackend)Backends.CudaOrIgnore();
        if (NcclCommunicator.Unavailable() is { } why) Assert.Ignore(why);
        Assert.That(NcclCommunicator.Version(), Is.EqualTo("NCCL 2.21.5"));

        const int n = 300_007;  // more than one 1 MiB shared-memory slot, odd tail
        var data = new float[Ranks][];
        var buffers = new CudaStorage[Ranks];
        for (int r = 0; r < Ranks; r++)
        {
            data[r] = new float[n];
            var random = new Random(17 + r);
            // Magnitudes far apart: a different summation order would show in the low bits.
            for (int i = 0; i < n; i++) data[r][i] = (r == 0 ? 1e7f : 0.37f) * (float)(random.NextDouble() - 0.5);
            buffers[r] = (CudaStorage)backend.Allocate(DType.Float32, n);
            backend.CopyIn<float>(buffers[r], data[r]);
        }
        var small = new CudaStorage[Ranks];
        for (int r = 0; r < Ranks; r++)
        {
            small[r] = (CudaStorage)backend.Allocate(DType.Float32, 3);
            backend.CopyIn<float>(small[r], r == 1 ? [4f, -5f, 6.5f] : [0f, 0f, 0f]);
        }
        backend.Synchronize();

        byte[] handedOver = new byte[ncclUniqueId.Bytes];
        using var idReady = new Barrier(Ranks);
        nint stream = backend.Context.Stream.DangerousGetHandle();
        var ranks = Enumerable.Range(0, Ranks).Select(rank => Task.Factory.StartNew(() =>
        {
            using var comm = NcclCommunicator.Create(rank, Ranks, id =>
            {
                if (rank == 0) id.CopyTo(handedOver);
                idReady.SignalAndWait();
                if (rank != 0) handedOver.CopyTo(id);
            });
            Assert.That((comm.Rank, comm.Size), Is.EqualTo((rank, Ranks)));
            comm.AllReduceSum(buffers[rank].Pointer, n, stream);
            comm.Group(() => comm.Broadcast(small[rank].Pointer, 3, root: 1, stream));
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.That(Task.WaitAll(ranks, TimeSpan.FromSeconds(120)), "ranks finished");

        var expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = data[0][i] + data[1][i];
        for (int r = 0; r < Ranks; r++)
        {
            var got = new float[n];
            backend.CopyOut<float>(buffers[r], got);
            Assert.That(got, Is.EqualTo(expected), $"rank {r}: bit-equal rank-order sum");
            var b = new float[3];
            backend.CopyOut<float>(small[r], b);
            Assert.That(b, Is.EqualTo(new[] { 4f, -5f, 6.5f }), $"rank {r}: broadcast from rank 1");
            buffers[r].Dispose();
            small[r].Dispose();
        }
    }
}
