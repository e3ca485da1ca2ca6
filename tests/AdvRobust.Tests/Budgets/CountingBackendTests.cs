using System.Reflection;
using AdvRobust.Core;
using AdvRobust.Core.Diagnostics;
using AdvRobust.Cpu.Diagnostics;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Budgets;

// The counting wrapper itself: it counts every IBackend member (found by reflection, so a member added to IBackend
// without its count fails here), its copies and allocations count calls and bytes, and it changes no result.
public class CountingBackendTests
{
    /// <summary>The members that are not compute ops, each with its own counter.</summary>
    private static readonly string[] MemoryMembers =
        [nameof(IBackend.Allocate), nameof(IBackend.CopyIn), nameof(IBackend.CopyOut), nameof(IBackend.Copy),
            nameof(IBackend.CopyRange), nameof(IBackend.Synchronize)];

    private static IEnumerable<MethodInfo> ComputeOps() => typeof(IBackend).GetMethods()
        .Where(m => !m.IsSpecialName && m.Name != nameof(IDisposable.Dispose) && !MemoryMembers.Contains(m.Name));

    [Test]
    public void EveryComputeOp_CountsOneLaunchUnderItsName()
    {
        var ops = ComputeOps().ToList();
        Assert.That(ops, Has.Count.GreaterThanOrEqualTo(30), "IBackend's compute ops were not found");
        var counting = new CountingBackend(Backends.Cpu);
        foreach (var op in ops)
        {
            Assert.That(op.GetParameters().Any(p => p.ParameterType.IsByRefLike), Is.False,
                $"IBackend.{op.Name} takes a span: give it a dedicated counting test like CopyIn's");
            var before = counting.Snapshot();
            // Null tensors: the CPU backend throws at once, after the wrapper has counted the call.
            object?[] args = op.GetParameters()
                .Select(p => p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : null).ToArray();
            try { op.Invoke(counting, args); }
            catch (TargetInvocationException) { }
            var step = counting.Snapshot() - before;
            Assert.That(step.LaunchesByOp, Is.EqualTo(new Dictionary<string, long> { [op.Name] = 1 }),
                $"CountingBackend.{op.Name} must count one launch under its own name: => Launch().{op.Name}(...)");
            Assert.That(step.Steps with { Launches = 0 }, Is.EqualTo(default(StepCounts)), op.Name);
        }
    }

    [Test]
    public void EveryIBackendMember_IsImplementedByTheWrapperItself()
    {
        // A member with a default implementation in IBackend (e.g. GraphCapture) would otherwise answer the default
        // instead of the inner backend's value without any compile error.
        var map = typeof(CountingBackend).GetInterfaceMap(typeof(IBackend));
        var inherited = map.TargetMethods.Where(m => m.DeclaringType != typeof(CountingBackend)).Select(m => m.Name);
        Assert.That(inherited, Is.Empty, "IBackend members CountingBackend does not forward");
    }

    [Test]
    public void MemoryMembers_CountCallsAndBytes()
    {
        var counting = new CountingBackend(Backends.Cpu);
        var data = Enumerable.Range(0, 10).Select(i => (float)i).ToArray();
        using var region = counting.Region();
        using var a = Tensor.FromArray(counting, data, 10);
        using var b = Tensor.Empty(counting, DType.Float32, 10);
        Ops.Copy(a, b);
        counting.Synchronize();
        Assert.That(b.ToArray(), Is.EqualTo(data));
        region.Dispose();
        Ops.Fill(a, 1f);
        var c = region.Counts;
        Assert.That((c.Allocations, c.AllocatedBytes), Is.EqualTo((2L, 80L)));
        Assert.That((c.HostToDeviceCopies, c.HostToDeviceBytes), Is.EqualTo((1L, 40L)));
        Assert.That((c.DeviceToHostCopies, c.DeviceToHostBytes), Is.EqualTo((1L, 40L)));
        Assert.That((c.DeviceToDeviceCopies, c.DeviceToDeviceBytes), Is.EqualTo((1L, 40L)));
        Assert.That(c.Syncs, Is.EqualTo(1));
        Assert.That(c.Launches, Is.Zero, "Fill ran after the region closed");
        Assert.That(counting.Snapshot().LaunchesOf(nameof(IBackend.Fill)), Is.EqualTo(1));
        Assert.That(a.Backend, Is.SameAs(counting), "tensors allocated on the wrapper must route their ops through it");
    }

    [Test]
    public void CopyRange_CountsOneDeviceToDeviceCopyOfItsElements()
    {
        var counting = new CountingBackend(Backends.Cpu);
        using var a = Tensor.FromArray(counting, Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), 4, 3);
        using var b = Tensor.Zeros(counting, 4, 3);
        var before = counting.Snapshot();
        Ops.CopyRows(a, 1, b, 2, 2);
        var c = counting.Snapshot() - before;
        Assert.That((c.DeviceToDeviceCopies, c.DeviceToDeviceBytes), Is.EqualTo((1L, 24L)));
        Assert.That(c.Launches, Is.Zero);
        Assert.That(b.ToArray(), Is.EqualTo(new float[] { 0, 0, 0, 0, 0, 0, 3, 4, 5, 6, 7, 8 }));
    }

    [Test]
    public void EveryMemoryMember_IsCountedBySomeCounter()
    {
        // A new memory member would need its own counter; this lists what the wrapper counts, so adding one to IBackend
        // without a counter (and a line in MemoryMembers_CountCallsAndBytes) fails.
        var members = typeof(IBackend).GetMethods().Where(m => !m.IsSpecialName).Select(m => m.Name)
            .Except(ComputeOps().Select(m => m.Name)).Order(StringComparer.Ordinal);
        // (Reflection on an interface lists its own members only, so IDisposable.Dispose is not among them.)
        Assert.That(members, Is.EqualTo(MemoryMembers.Order(StringComparer.Ordinal)));
    }

    [Test]
    public void Pgd10Attack_ThroughTheWrapper_IsBitIdenticalToThePlainBackend()
    {
        float[]? Attack(IBackend backend)
        {
            using var workload = new BudgetWorkload(backend);
            return workload.Attack(keepAdversarial: true);
        }

        var counting = new CountingBackend(Backends.Cpu);
        Assert.That(Attack(counting), Is.EqualTo(Attack(Backends.Cpu)));
        Assert.That(counting.Snapshot().Launches, Is.GreaterThan(100));
    }

    [Test]
    public void AnInnerBackendThatCannotBeDecorated_IsRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => _ = new CountingBackend(new CountingBackend(Backends.Cpu)));
        Assert.That(e!.Message, Does.Contain(nameof(CountingBackend)).And.Contain(nameof(IDecoratableBackend)));
    }
}
