using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Cpu;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Tests.Distributed;

/// <summary>
/// `mpirun -n 2 advrobust train --device cuda` on the CUDA emulator (ADVROBUST_CUDA=emulator): the gradients all-reduced
/// on the device by the emulator's NCCL stand-in (libadvrobust-emu-nccl.so, shared memory between the two rank
/// processes) against the host MPI path (ADVROBUST_NCCL=0), two PGD-AT steps of the small CNN. Both sum the two ranks'
/// scaled gradients once (a + b), so the weights are bit-equal; the log says which path each run took. NCCL on a
/// second stream while backward runs against NCCL after backward (ADVROBUST_GRADIENT_OVERLAP=0): bit-equal too. Ignored
/// without mpirun or without the emulator's libraries.
/// </summary>
[Category("Mpi")]
[Category("Gpu")]
[NonParallelizable]
public class MpiNcclTests
{
    private string _dir = null!;
    private (int Code, string Output) _nccl, _host, _ncclAfter;

    [OneTimeSetUp]
    public void Launch()
    {
        if (MpiRunTests.Which("mpirun") is null) Assert.Ignore("mpirun not found (apt-get install openmpi-bin)");
        string? emulator = NativeLibraries.EmulatorDirectory;
        if (emulator is null || !File.Exists(Path.Combine(emulator, "libadvrobust-emu-nccl.so")))
            Assert.Ignore("the CUDA emulator with its NCCL stand-in is not built (src/AdvRobust.Emulator/build.sh)");
        _dir = Directory.CreateTempSubdirectory("advrobust-nccl-").FullName;
        string data = MpiRunTests.WriteData(Path.Combine(_dir, "data"));
        string config = Path.Combine(_dir, "tiny-nccl.json");
        File.WriteAllText(config, $$"""
        {
          "epochs": 1,
          "batchSize": 32,
          "data": { "name": "{{data}}", "evalSize": 4, "evalSplit": "test" },
          "model": { "arch": "small-cnn" },
          "objective": { "kind": "pgd-at", "settings": { "eps": 0.1, "steps": 1, "stepSize": 0.1 } },
          "optimizer": { "lr": 0.05, "momentum": 0.9, "weightDecay": 0.0005 },
          "evaluation": { "eps": 0.1, "steps": 1, "stepSize": 0.1, "batchSize": 4 }
        }
        """);
        string[] train = ["train", "--config", config, "--device", "cuda", "--out"];
        var env = new Dictionary<string, string> { ["ADVROBUST_CUDA"] = "emulator", ["ADVROBUST_EMULATOR_DIR"] = emulator };
        _nccl = MpiRunTests.Run(2, [.. train, Path.Combine(_dir, "nccl")], _dir, env);
        _host = MpiRunTests.Run(2, [.. train, Path.Combine(_dir, "host")], _dir,
            new Dictionary<string, string>(env) { ["ADVROBUST_NCCL"] = "0" });
        _ncclAfter = MpiRunTests.Run(2, [.. train, Path.Combine(_dir, "nccl-after")], _dir,
            new Dictionary<string, string>(env) { ["ADVROBUST_GRADIENT_OVERLAP"] = "0" });
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        if (_dir is not null && Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void NcclStandInAndHostPathTrainBitEqualWeights()
    {
        Assert.That(_nccl.Code, Is.Zero, _nccl.Output);
        Assert.That(_host.Code, Is.Zero, _host.Output);
        Assert.That(_nccl.Output, Does.Contain("gradients all-reduced on the device with NCCL 2.21.5"), _nccl.Output);
        Assert.That(_host.Output, Does.Contain("ADVROBUST_NCCL=0: gradients are all-reduced over MPI through the host"));
        Assert.That(_host.Output, Does.Not.Contain("on the device with NCCL"));
        using var a = Load(Path.Combine(_dir, "nccl", "last.safetensors"));
        using var b = Load(Path.Combine(_dir, "host", "last.safetensors"));
        var host = b.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Value.ToArray());
        foreach (var (name, p) in a.NamedParameters())
            Assert.That(p.Value.ToArray(), Is.EqualTo(host[name]), $"{name}: NCCL stand-in vs host MPI, bit for bit");
    }

    /// <summary>NCCL on its own stream while backward runs (the default) against NCCL on the compute stream after
    /// backward (ADVROBUST_GRADIENT_OVERLAP=0): the same scaled gradients reduced by the same calls, the same bits.</summary>
    [Test]
    public void NcclOnTheSecondStreamEqualsNcclAfterBackward()
    {
        Assert.That(_nccl.Code, Is.Zero, _nccl.Output);
        Assert.That(_ncclAfter.Code, Is.Zero, _ncclAfter.Output);
        Assert.That(_nccl.Output, Does.Contain("on a second stream while backward runs"), _nccl.Output);
        Assert.That(_ncclAfter.Output, Does.Contain("after backward: ADVROBUST_GRADIENT_OVERLAP=0"), _ncclAfter.Output);
        using var a = Load(Path.Combine(_dir, "nccl", "last.safetensors"));
        using var b = Load(Path.Combine(_dir, "nccl-after", "last.safetensors"));
        var after = b.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Value.ToArray());
        foreach (var (name, p) in a.NamedParameters())
            Assert.That(p.Value.ToArray(), Is.EqualTo(after[name]), $"{name}: second stream vs after backward, bit for bit");
    }

    private static ImageClassifier Load(string path)
    {
        var model = ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.5f], [0.5f], 0);
        Checkpoint.Load(path, model);
        return model;
    }
}
