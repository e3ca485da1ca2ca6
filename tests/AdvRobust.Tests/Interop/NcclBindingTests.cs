using System.Runtime.CompilerServices;
using AdvRobust.Cuda;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Tests.Interop;

/// <summary>
/// Our NCCL 2.x declarations against nccl.h's documented values (no NCCL on this machine: these check the layouts,
/// the version decoding and the missing-library path, not a collective).
/// </summary>
public class NcclBindingTests
{
    [Test]
    public void UniqueIdIs128BytesPassedByValue()
    {
        Assert.That(Unsafe.SizeOf<ncclUniqueId>(), Is.EqualTo(128));
        ncclUniqueId id = default;
        id[127] = 7;
        Span<byte> bytes = id;
        Assert.That(bytes.Length, Is.EqualTo(128));
        Assert.That(bytes[127], Is.EqualTo(7));
    }

    [Test]
    public void EnumsHaveNcclHeadersValues()
    {
        Assert.That((int)ncclDataType_t.ncclFloat32, Is.EqualTo(7));
        Assert.That((int)ncclDataType_t.ncclFloat64, Is.EqualTo(8));
        Assert.That((int)ncclDataType_t.ncclBfloat16, Is.EqualTo(9));
        Assert.That((int)ncclRedOp_t.ncclSum, Is.EqualTo(0));
        Assert.That((int)ncclRedOp_t.ncclAvg, Is.EqualTo(4));
        Assert.That((int)ncclResult_t.ncclInvalidUsage, Is.EqualTo(5));
        Assert.That((int)ncclResult_t.ncclInProgress, Is.EqualTo(7));
        Assert.That(sizeof(ncclResult_t), Is.EqualTo(4));
    }

    [TestCase(2704, 2, 7, 4)]
    [TestCase(2803, 2, 8, 3)]
    [TestCase(21605, 2, 16, 5)]
    [TestCase(22105, 2, 21, 5)]
    public void VersionCodesDecodeBothWays(int code, int major, int minor, int patch) =>
        Assert.That(Nccl.DecodeVersion(code), Is.EqualTo((major, minor, patch)));

    [Test]
    public void MissingLibraryGivesOneMessageNamingItAndTheFallback()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("Linux names");
        Assert.That(NativeLibraries.CandidatesFor(NativeLibraries.Nccl, emulator: false), Is.EqualTo(new[] { "libnccl.so.2" }));
        Assert.That(NativeLibraries.CandidatesFor(NativeLibraries.Nccl, emulator: true).Select(Path.GetFileName),
            Is.EqualTo(new[] { "libadvrobust-emu-nccl.so" }), "the emulator's NCCL stand-in replaces NVIDIA's library");
        string message = NativeLibraries.MissingMessage(NativeLibraries.Nccl, ["libnccl.so.2"], emulator: false);
        Assert.That(message, Does.Contain("'nccl' not found").And.Contain("libnccl.so.2").And.Contain("libnccl2")
            .And.Contain("over MPI through the host"));
        if (NativeLibraries.EmulatorSelected) Assert.Ignore("ADVROBUST_CUDA=emulator: NCCL is the emulator's stand-in");
        string? here = NcclCommunicator.Unavailable();
        if (here is null) Assert.Ignore("libnccl.so.2 is installed here");
        Assert.That(here, Is.EqualTo(message));
        Assert.Throws<DllNotFoundException>(() => NcclCommunicator.Version());
    }
}
