using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Emulator;

/// <summary>
/// The CUDA emulator's checks, each proved by a test-only kernel with one defect (src/AdvRobust.Emulator/tests/
/// emu_selftest.cu), compiled by NVRTC through the engine's KernelCache and launched through its own bindings.
/// Runs only with ADVROBUST_CUDA=emulator.
/// </summary>
[Category("Gpu")]
[Category("Emulator")]
public unsafe class EmulatorTests
{
    private static readonly Lazy<byte[]> Cubin = new(() => KernelCache.CompileSource(
        File.ReadAllText(SelfTestSource()), "emu_selftest.cu", "sm_90").Cubin);

    private CudaBackend _gpu = null!;
    private CudaModuleHandle _module = null!;

    [SetUp]
    public void SetUp()
    {
        if (!NativeLibraries.EmulatorSelected) Assert.Ignore("needs the CUDA emulator: ADVROBUST_CUDA=emulator");
        _gpu = (CudaBackend)Backends.CudaOrIgnore();
        _module = CudaModuleHandle.Load(_gpu.Context.Handle, Cubin.Value, "emu_selftest");
    }

    [TearDown]
    public void TearDown() => _module?.Dispose();

    [Test]
    public void Barrier_Present_RotatesThroughSharedMemoryExactly()
    {
        var got = Run("emu_test_barrier_ok", 256, 256);
        Assert.That(got, Is.EqualTo(Enumerable.Range(0, 256).Select(t => (float)((t + 1) % 256)).ToArray()));
    }

    [Test]
    public void Barrier_Missing_ChangesTheResultUnderTheRandomizedSchedule()
    {
        var got = Run("emu_test_barrier_missing", 256, 256);
        int wrong = Enumerable.Range(0, 256).Count(t => got[t] != (t + 1) % 256);
        Assert.That(wrong, Is.GreaterThan(0), "a race on shared memory must show up, not hide");
        Assert.That(got.Any(float.IsNaN), "unwritten shared memory reads as NaN (poison)");
    }

    [Test]
    public void Barrier_ReachedByHalfTheBlock_FailsNamingKernelBlockAndThread()
    {
        var e = Assert.Throws<CudaException>(() => Run("emu_test_barrier_divergent", 64, 64));
        Assert.That(e!.Result, Is.EqualTo(CUresult.CUDA_ERROR_LAUNCH_FAILED));
        Assert.That(e.Message, Does.Contain("emu_test_barrier_divergent").And.Contain("block (0,0,0)")
            .And.Contain("thread (").And.Contain("__syncthreads").And.Contain("exited without reaching it"));
    }

    [Test]
    public void GlobalWrite_PastTheEnd_IsAnIllegalAddressNamingTheThread()
    {
        var e = Assert.Throws<CudaException>(() => Run("emu_test_out_of_bounds", 1024, 32, extraInt: 1024));
        Assert.That(e!.Result, Is.EqualTo(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS));
        Assert.That(e.Message, Does.Contain("emu_test_out_of_bounds").And.Contain("block (0,0,0), thread (")
            .And.Contain("past the end of the device allocation of 4096 bytes"));
        // The context stays usable for the next test (unlike a real GPU, where this error is sticky).
        Assert.That(Run("emu_test_barrier_ok", 256, 256)[0], Is.EqualTo(1f));
    }

    [Test]
    public void Shuffle_WithExitedLanesInItsMask_Fails()
    {
        var e = Assert.Throws<CudaException>(() => Run("emu_test_shuffle_exited", 32, 32));
        Assert.That(e!.Result, Is.EqualTo(CUresult.CUDA_ERROR_LAUNCH_FAILED));
        Assert.That(e.Message, Does.Contain("emu_test_shuffle_exited").And.Contain("__shfl_xor_sync")
            .And.Contain("mask 0xffffffff").And.Contain("has exited"));
    }

    [Test]
    public void Shuffle_FullWarpButterfly_SumsEveryLane()
    {
        Assert.That(Run("emu_test_shuffle_ok", 32, 32), Is.All.EqualTo(496f));
    }

    [Test]
    public void DeviceMemory_NothingWrote_ReadsAsNaN()
    {
        using var unwritten = Tensor.Empty(_gpu, DType.Float32, 300);
        using var output = Tensor.Zeros(_gpu, 300);
        ulong src = ((CudaStorage)unwritten.Storage).Pointer, dst = ((CudaStorage)output.Storage).Pointer;
        int n = 300;
        Launch("emu_test_copy", 2, 128, [&src, &dst, &n]);
        Assert.That(output.ToArray(), Is.All.NaN);
    }

    [Test]
    public void SharedMemory_NothingWrote_ReadsAsNaN()
    {
        var got = Run("emu_test_shared_unwritten", 64, 64);
        Assert.That(got[..32], Is.All.EqualTo(1f));
        Assert.That(got[32..], Is.All.NaN);
    }

    [Test]
    public void Launch_AboveLaunchBounds_IsRejectedWithTheBound()
    {
        Assert.That(Run("emu_test_bounded", 64, 64), Is.All.EqualTo(2f));
        var e = Assert.Throws<CudaException>(() => Run("emu_test_bounded", 128, 128));
        Assert.That(e!.Result, Is.EqualTo(CUresult.CUDA_ERROR_INVALID_VALUE));
        Assert.That(e.Message, Does.Contain("__launch_bounds__ (64)"));
    }

    [TestCase(1u, 2048u, "block (2048,1,1) out of range")]
    [TestCase(65536u, 32u, "grid (1,65536,1) out of range")]
    public void Launch_GeometryOutOfRange_IsInvalidValue(uint gridY, uint block, string expected)
    {
        using var t = Tensor.Zeros(_gpu, 4096);
        ulong p = ((CudaStorage)t.Storage).Pointer;
        void** args = stackalloc void*[] { &p };
        _gpu.Context.MakeCurrent();
        var r = CudaDriver.cuLaunchKernel(_module.GetFunction("emu_test_bounded"), 1, gridY, 1,
            block, 1, 1, 0, _gpu.Context.Stream.DangerousGetHandle(), args, null);
        Assert.That(r, Is.EqualTo(CUresult.CUDA_ERROR_INVALID_VALUE));
        var e = new CudaException(r, "cuLaunchKernel");
        Assert.That(e.Message, Does.Contain(expected));
    }

    [Test]
    public void Copy_ToAHostAddress_IsRejectedNamingTheRange()
    {
        var host = new float[4];
        fixed (float* h = host)
        {
            _gpu.Context.MakeCurrent();
            var r = CudaDriver.cuMemcpyHtoDAsync_v2((ulong)h, (nint)h, 16, _gpu.Context.Stream.DangerousGetHandle());
            Assert.That(r, Is.EqualTo(CUresult.CUDA_ERROR_INVALID_VALUE));
            Assert.That(new CudaException(r, "copy").Message, Does.Contain("not inside one live device allocation"));
        }
    }

    [Test]
    public void Counters_InARegion_CountLaunchesCopiesBytesAndSyncs()
    {
        var data = new float[1000];
        using (EmulatorCounters.Region("emu-test-outer"))
        {
            using var t = Tensor.FromArray(_gpu, data, 1000);
            using (EmulatorCounters.Region("emu-test-step"))
            {
                Ops.Fill(t, 3f);
                Ops.Fill(t, 4f);
            }
            Assert.That(t.ToArray(), Is.All.EqualTo(4f));
        }
        var step = EmulatorCounters.Read("emu-test-step");
        Assert.That(step.KernelLaunches, Is.EqualTo(2));
        Assert.That((step.HostToDeviceCopies, step.DeviceToHostCopies, step.Syncs, step.Allocations), Is.EqualTo((0L, 0L, 0L, 0L)));
        var outer = EmulatorCounters.Read("emu-test-outer");
        Assert.That(outer.KernelLaunches, Is.EqualTo(2));
        Assert.That((outer.HostToDeviceCopies, outer.HostToDeviceBytes), Is.EqualTo((1L, 4000L)));
        Assert.That((outer.DeviceToHostCopies, outer.DeviceToHostBytes), Is.EqualTo((1L, 4000L)));
        Assert.That(outer.Allocations, Is.EqualTo(1));
        // Issue 13: uploads go through the pinned ring without waiting; only the download waits.
        Assert.That(outer.Syncs, Is.EqualTo(1), "the download waits, the upload does not");
        Assert.That(EmulatorCounters.Total.KernelLaunches, Is.GreaterThanOrEqualTo(2));
        Assert.Throws<ArgumentException>(() => EmulatorCounters.Read("emu-test-never-opened"));
    }

    [Test]
    public void Doctor_SaysTheEmulatorIsInUse()
    {
        var driver = CudaDiagnostics.Probe().Single(i => i.Component == "CUDA driver");
        Assert.That(driver.Ok);
        Assert.That(driver.Detail, Does.Contain("CUDA EMULATOR in use"));
    }

    private float[] Run(string kernel, int n, uint block, int? extraInt = null)
    {
        using var t = Tensor.Zeros(_gpu, n);
        ulong p = ((CudaStorage)t.Storage).Pointer;
        int extra = extraInt ?? 0;
        if (extraInt is null) Launch(kernel, 1, block, [&p]);
        else Launch(kernel, 1, block, [&p, &extra]);
        return t.ToArray();
    }

    private void Launch(string kernel, uint grid, uint block, void*[] args)
    {
        _gpu.Context.MakeCurrent();
        fixed (void** a = args)
        {
            var r = CudaDriver.cuLaunchKernel(_module.GetFunction(kernel), grid, 1, 1, block, 1, 1, 0,
                _gpu.Context.Stream.DangerousGetHandle(), a, null);
            CudaException.Check(r);
        }
    }

    private static string SelfTestSource()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "src", "AdvRobust.Emulator", "tests", "emu_selftest.cu");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException("src/AdvRobust.Emulator/tests/emu_selftest.cu not found above " + AppContext.BaseDirectory);
    }
}
