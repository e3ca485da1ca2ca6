using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Tests.Interop;

public class NativeLibrariesTests
{
    [TestCase(NativeLibraries.Cuda, "libcuda.so.1")]
    [TestCase(NativeLibraries.Nvrtc, "libnvrtc.so.13")]
    [TestCase(NativeLibraries.Cublas, "libcublas.so.13")]
    [TestCase(NativeLibraries.Cudnn, "libcudnn.so.9")]
    public void CandidatesFor_Linux_NewestMajorFirst(string logical, string first)
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("Linux names");
        Assert.That(NativeLibraries.CandidatesFor(logical, emulator: false)[0], Is.EqualTo(first));
    }

    [Test]
    public void CandidatesFor_Nvrtc_FallsBackToCuda12ThenDebians11()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("Linux names");
        Assert.That(NativeLibraries.CandidatesFor(NativeLibraries.Nvrtc, emulator: false),
            Is.EqualTo(new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2" }));
        Assert.That(NativeLibraries.CandidatesFor(NativeLibraries.Cublas, emulator: false),
            Is.EqualTo(new[] { "libcublas.so.13", "libcublas.so.12" }));
    }

    [TestCase(NativeLibraries.Cuda, "libadvrobust-emu-cuda.so")]
    [TestCase(NativeLibraries.Cublas, "libadvrobust-emu-cublas.so")]
    [TestCase(NativeLibraries.Cudnn, "libadvrobust-emu-cudnn.so")]
    [TestCase(NativeLibraries.Nccl, "libadvrobust-emu-nccl.so")]
    public void CandidatesFor_EmulatorSelected_IsTheEmulatorsLibraryOnly(string logical, string file)
    {
        var names = NativeLibraries.CandidatesFor(logical, emulator: true);
        Assert.That(names, Has.Count.EqualTo(1));
        Assert.That(Path.GetFileName(names[0]), Is.EqualTo(file));
    }

    [Test]
    public void CandidatesFor_EmulatorSelected_KeepsNvidiasNvrtc()
    {
        Assert.That(NativeLibraries.CandidatesFor(NativeLibraries.Nvrtc, emulator: true),
            Is.EqualTo(NativeLibraries.CandidatesFor(NativeLibraries.Nvrtc, emulator: false)));
    }

    [Test]
    public void MissingMessage_EmulatorSelected_SaysHowToBuildIt()
    {
        string message = NativeLibraries.MissingMessage(NativeLibraries.Cuda, ["x/libadvrobust-emu-cuda.so"], emulator: true);
        Assert.That(message, Does.Contain("CUDA emulator").And.Contain("x/libadvrobust-emu-cuda.so")
            .And.Contain("src/AdvRobust.Emulator/build.sh").And.Contain("ADVROBUST_EMULATOR_DIR"));
    }

    [Test]
    public void CandidatesFor_UnknownLibrary_Throws() =>
        Assert.Throws<ArgumentException>(() => NativeLibraries.CandidatesFor("cufft"));

    [Test]
    public void MissingMessage_NamesLibraryFilesAndRemedy()
    {
        string message = NativeLibraries.MissingMessage(NativeLibraries.Cudnn, ["libcudnn.so.9"], emulator: false);
        Assert.That(message, Does.Contain("cudnn").And.Contain("libcudnn.so.9").And.Contain("install cuDNN 9")
            .And.Contain("CPU backend"));
    }

    [Test]
    public void CreateCudaBackend_WithoutDriver_ThrowsOneClearMessage()
    {
        if (NativeLibraries.Probe(NativeLibraries.Cuda).File is not null) Assert.Ignore("a CUDA driver is installed here");
        var e = Assert.Throws<DllNotFoundException>(() => CudaBackend.Create());
        Assert.That(e!.Message, Does.Contain("libcuda.so.1").And.Contain("NVIDIA driver"));
    }

    [Test]
    public void Probe_WithoutGpu_ReportsEachMissingPieceWithoutThrowing()
    {
        var items = CudaDiagnostics.Probe();
        Assert.That(items.Select(i => i.Component),
            Is.SupersetOf(new[] { "CUDA driver", "GPU", "NVRTC", "cuBLAS", "cuDNN", "Kernels" }));
        foreach (var item in items.Where(i => !i.Ok))
            Assert.That(item.Detail, Is.Not.Empty, $"{item.Component} is missing without a reason");
        if (NativeLibraries.Probe(NativeLibraries.Cuda).File is null)
            Assert.That(items.Single(i => i.Component == "CUDA driver").Ok, Is.False);
    }
}
