using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;

namespace AdvRobust.Tests.Cpu;

// The CPU backend's buffer reuse (CpuMemoryPool) and the poison the test run turns on (PoisonSetup).
public class MemoryPoolTests
{
    [Test]
    public void Empty_InTheTestRun_StartsPoisoned()
    {
        Assert.That(CpuBackend.PoisonNewTensors, Is.True, "PoisonSetup should have turned poisoning on for every test");
        using var f = Tensor.Empty(CpuBackend.Instance, DType.Float32, 3, 70_000);
        using var i = Tensor.Empty(CpuBackend.Instance, DType.Int32, 5);
        Assert.That(f.ToArray<float>().All(float.IsNaN), Is.True);
        Assert.That(i.ToArray<int>(), Is.All.EqualTo(-1));
    }

    [Test]
    public void Empty_AfterAFreeOfTheSameSize_ReusesTheBufferWithoutItsData()
    {
        var backend = new CpuBackend();
        var first = Tensor.Empty(backend, DType.Float32, 100_000);
        backend.Fill(first, 7f);
        first.Dispose();
        Assert.That(backend.CachedBytes, Is.EqualTo(400_000));
        using var second = Tensor.Empty(backend, DType.Float32, 100_000);
        Assert.That(backend.CachedBytes, Is.Zero, "the freed buffer should have been handed out again");
        Assert.That(second.ToArray<float>().Any(v => v == 7f), Is.False, "poisoned: no stale value may show through");
        backend.TrimCache();
    }

    [Test]
    public void Dispose_BeyondTheCap_LeavesBuffersToTheGc()
    {
        var backend = new CpuBackend(maxCachedBytes: 1_000_000);
        // 300 kB tensors: the cap holds three of them; the fourth is dropped.
        var tensors = Enumerable.Range(0, 4).Select(_ => Tensor.Empty(backend, DType.Float32, 75_000)).ToList();
        foreach (var t in tensors) t.Dispose();
        Assert.That(backend.CachedBytes, Is.EqualTo(3 * 300_000L));
        backend.TrimCache();
        Assert.That(backend.CachedBytes, Is.Zero);
    }
}
