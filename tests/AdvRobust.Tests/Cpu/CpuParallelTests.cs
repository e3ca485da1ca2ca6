using AdvRobust.Cpu;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The CPU backend's fork-join loop (src/AdvRobust.Cpu/CpuParallel.cs): every index runs exactly once, on more than
/// one thread when there are several cores; per-thread state is made and finished once per taking-part thread;
/// nested loops, concurrent callers and exceptions behave; thousands of back-to-back loops (the hand-off it exists
/// for) lose no index and never hang.
/// </summary>
public class CpuParallelTests
{
    [TestCase(0, 0)]
    [TestCase(0, 1)]
    [TestCase(3, 4)]
    [TestCase(0, 7)]
    [TestCase(5, 1000)]
    [TestCase(0, 100_003)]
    public void EveryIndexRunsOnce(int from, int to)
    {
        var hits = new int[Math.Max(0, to)];
        CpuParallel.For(from, to, i => Interlocked.Increment(ref hits[i]));
        for (int i = 0; i < hits.Length; i++) Assert.That(hits[i], Is.EqualTo(i >= from ? 1 : 0), $"index {i}");
    }

    [Test]
    public void ManyBackToBackLoops_LoseNothing()
    {
        var hits = new long[64];
        for (int loop = 0; loop < 5000; loop++) CpuParallel.For(0, 1 + loop % 64, i => Interlocked.Increment(ref hits[i]));
        for (int i = 0; i < 64; i++)
            Assert.That(hits[i], Is.EqualTo(Enumerable.Range(0, 5000).Count(loop => i < 1 + loop % 64)), $"index {i}");
    }

    [Test]
    public void UsesMoreThanOneThread_WhereThereAreCores()
    {
        if (CpuParallel.Threads < 2) Assert.Ignore("one core: every loop runs on the caller");
        var threads = new HashSet<int>();
        // Each index waits until a second thread has shown up (or a second has passed), so one thread cannot
        // finish them all alone while the others are still waking.
        var start = DateTime.UtcNow;
        CpuParallel.For(0, 64, i =>
        {
            lock (threads) threads.Add(Environment.CurrentManagedThreadId);
            while (DateTime.UtcNow - start < TimeSpan.FromSeconds(1))
                lock (threads)
                    if (threads.Count > 1) break;
        });
        Assert.That(threads, Has.Count.GreaterThan(1));
    }

    [Test]
    public void ThreadLocalState_InitAndFinishOncePerThread_AndSumsAreComplete()
    {
        int inits = 0, finishes = 0;
        long total = 0;
        CpuParallel.For(0, 10_000, 0, () => { Interlocked.Increment(ref inits); return 0L; },
            (i, sum) => sum + i, sum => { Interlocked.Increment(ref finishes); Interlocked.Add(ref total, sum); });
        Assert.That(total, Is.EqualTo(10_000L * 9_999 / 2));
        Assert.That(inits, Is.EqualTo(finishes));
        Assert.That(inits, Is.InRange(1, CpuParallel.Threads));
    }

    [Test]
    public void MaxThreadsOne_RunsOnTheCaller()
    {
        int caller = Environment.CurrentManagedThreadId, elsewhere = 0;
        CpuParallel.For(0, 1000, 1, i =>
        {
            if (Environment.CurrentManagedThreadId != caller) Interlocked.Increment(ref elsewhere);
        });
        Assert.That(elsewhere, Is.Zero);
    }

    [Test]
    public void NestedLoops_RunEveryInnerIndex()
    {
        var hits = new int[40, 50];
        CpuParallel.For(0, 40, i => CpuParallel.For(0, 50, j => Interlocked.Increment(ref hits[i, j])));
        Assert.That(hits.Cast<int>(), Is.All.EqualTo(1));
    }

    [Test]
    public void ConcurrentCallers_EachGetTheirOwnIndices()
    {
        const int callers = 4, loops = 300, n = 257;
        var hits = new int[callers, n];
        var tasks = Enumerable.Range(0, callers).Select(c => Task.Run(() =>
        {
            for (int loop = 0; loop < loops; loop++) CpuParallel.For(0, n, i => Interlocked.Increment(ref hits[c, i]));
        })).ToArray();
        Assert.That(Task.WaitAll(tasks, TimeSpan.FromMinutes(2)), Is.True, "concurrent loops did not finish");
        Assert.That(hits.Cast<int>(), Is.All.EqualTo(loops));
    }

    [Test]
    public void AnExceptionInABody_ReachesTheCaller_AndTheLoopIsReusable()
    {
        var error = Assert.Throws<InvalidOperationException>(() => CpuParallel.For(0, 1000, i =>
        {
            if (i == 617) throw new InvalidOperationException("index 617");
        }));
        Assert.That(error!.Message, Is.EqualTo("index 617"));
        int count = 0;
        CpuParallel.For(0, 1000, _ => Interlocked.Increment(ref count));
        Assert.That(count, Is.EqualTo(1000));
    }
}
