using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Interop;

/// <summary>The bindings against a real device: copies, the pool, errors with context, kernel loading, events.</summary>
[Category("Gpu")]
public class CudaRuntimeTests
{
    private CudaBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = (CudaBackend)Backends.CudaOrIgnore();

    [TestCase(1)]
    [TestCase(33)]
    [TestCase(50_000_017)] // 200 MB: crosses the 32 MiB pinned staging buffer several times
    public void CopyInCopyOut_AwkwardSizes_RoundTripExactly(int n)
    {
        var data = new SeededRandom(nameof(CopyInCopyOut_AwkwardSizes_RoundTripExactly) + n).Uniform(n);
        using var t = Tensor.FromArray(_gpu, data, n);
        Assert.That(t.ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void Copy_DeviceToDevice_CopiesAllBytes()
    {
        var data = new SeededRandom(nameof(Copy_DeviceToDevice_CopiesAllBytes)).Uniform(12345);
        using var a = Tensor.FromArray(_gpu, data, 12345);
        using var b = Tensor.Empty(_gpu, DType.Float32, 12345);
        Ops.Copy(a, b);
        Assert.That(b.ToArray(), Is.EqualTo(data));
    }

    [TestCase(16 << 20)] // 64 MiB
    [TestCase(1 << 18)]  // 1 MiB: the emulator-sized case (each fill is a grid-stride loop run thread by thread)
    public void Allocate_RepeatedSameSize_ReusesPoolMemory(int floats)
    {
        if (floats > 1 << 18 && NativeLibraries.EmulatorSelected)
            Assert.Ignore("200 fills of 64 MiB take minutes on the CUDA emulator; the 1 MiB case runs there");
        using (Tensor.Empty(_gpu, DType.Float32, floats)) { }
        _gpu.Synchronize();
        long before = _gpu.Context.PoolReservedBytes();
        for (int i = 0; i < 200; i++)
            using (var t = Tensor.Empty(_gpu, DType.Float32, floats)) Ops.Fill(t, i);
        _gpu.Synchronize();
        Assert.That(_gpu.Context.PoolReservedBytes(), Is.LessThanOrEqualTo(before + (floats * 4L)),
            "the pool should hand back cached memory instead of asking the driver each step");
    }

    [Test]
    public void Allocate_MoreThanTheDevice_ThrowsCudaExceptionWithSizes()
    {
        var e = Assert.Throws<CudaException>(() => _gpu.Context.Allocate(1L << 50));
        Assert.That(e!.Message, Does.Contain("cuMemAllocAsync"));
    }

    [Test]
    public void Dispose_Twice_IsHarmless()
    {
        var t = Tensor.Zeros(_gpu, 10);
        t.Dispose();
        Assert.DoesNotThrow(t.Dispose);
        Assert.Throws<ObjectDisposedException>(() => Ops.Fill(t, 1f));
    }

    [Test]
    public void NvrtcCompile_BrokenSource_CarriesTheProgramLog()
    {
        var e = Assert.Throws<NvrtcException>(() =>
            KernelCache.CompileSource("extern \"C\" __global__ void k(float* x) { x[0] = undefined_symbol_xyz; }",
                "broken.cu", _gpu.Context.Device.Arch));
        Assert.That(e!.Log, Does.Contain("undefined_symbol_xyz"));
        Assert.That(e.Message, Does.Contain("broken.cu").And.Contain("NVRTC_ERROR_COMPILATION"));
    }

    [Test]
    public void KernelCache_EveryFamily_LoadsAndReportsHow()
    {
        foreach (var family in KernelSources.Families)
        {
            // The first kernel's name, after an optional __launch_bounds__(...) (triplet.cu has one).
            string first = System.Text.RegularExpressions.Regex.Match(KernelSources.Source(family),
                @"extern ""C"" __global__ void (?:__launch_bounds__\([^)]*\) )?(\w+)\(").Groups[1].Value;
            Assert.That(_gpu.KernelCache.Function(family, first), Is.Not.Zero, $"{family}.{first}");
        }
        Assert.That(_gpu.KernelCache.LoadedFrom.Keys, Is.SupersetOf(KernelSources.Families));
    }

    [Test]
    public void KernelCache_MissingKernel_NamesIt()
    {
        var e = Assert.Throws<CudaException>(() => _gpu.KernelCache.Function("pgd", "no_such_kernel_f32"));
        Assert.That(e!.Message, Does.Contain("no_such_kernel_f32"));
    }

    [Test]
    public void Events_AroundWork_MeasurePositiveGpuTime()
    {
        using var t = Tensor.Empty(_gpu, DType.Float32, 1 << 24);
        using var start = CudaEventHandle.Create(_gpu.Context.Handle);
        using var end = CudaEventHandle.Create(_gpu.Context.Handle);
        start.Record(_gpu.Context.Stream);
        for (int i = 0; i < 10; i++) Ops.Fill(t, i);
        end.Record(_gpu.Context.Stream);
        Assert.That(CudaEventHandle.ElapsedMilliseconds(start, end), Is.GreaterThan(0f));
    }
}
