using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Interop;

/// <summary><see cref="SideStream"/>: work on the second stream runs after the compute stream's work before
/// <see cref="SideStream.Fork"/>, and the compute stream's work after <see cref="SideStream.Join"/> runs after the
/// side stream's; on the emulator each is one event record and one cuStreamWaitEvent (counted), and a wait on a dead
/// event is refused.</summary>
[Category("Gpu")]
public class SideStreamTests
{
    [Test]
    public void ForkAndJoin_OrderWorkAcrossTheStreams()
    {
        var gpu = (CudaBackend)Backends.CudaOrIgnore();
        const int n = 1 << 16;
        using var side = new SideStream(gpu.Context);
        using var t = Tensor.Empty(gpu, DType.Float32, n);
        var region = NativeLibraries.EmulatorSelected ? EmulatorCounters.Region("side-stream") : null;
        Ops.Fill(t, 1f);                                   // compute stream
        side.Fork();
        CudaException.Check(CudaDriver.cuMemsetD32Async(((CudaStorage)t.Storage).Pointer,
            (uint)BitConverter.SingleToInt32Bits(2f), n, side.Stream.DangerousGetHandle()));  // side stream: 2
        side.Join();
        Ops.Axpby(3f, t, 0f, t);                           // compute stream: 3·2
        region?.Dispose();
        Assert.That(t.ToArray(), Is.All.EqualTo(6f));
        if (!NativeLibraries.EmulatorSelected) return;
        var counts = EmulatorCounters.Read("side-stream");
        Assert.That((counts.EventRecords, counts.StreamWaits), Is.EqualTo((2L, 2L)), "one record and one wait each way");
    }

    [Test]
    public void WaitOnADeadEvent_IsAnInvalidHandle()
    {
        if (!NativeLibraries.EmulatorSelected) Assert.Ignore("the emulator checks handles; a real driver may crash");
        var gpu = (CudaBackend)Backends.CudaOrIgnore();
        var e = CudaEventHandle.Create(gpu.Context.Handle);
        nint dead = e.DangerousGetHandle();
        e.Dispose();
        Assert.That(CudaDriver.cuStreamWaitEvent(gpu.Context.Stream.DangerousGetHandle(), dead, 0),
            Is.EqualTo(CUresult.CUDA_ERROR_INVALID_HANDLE));
    }
}
