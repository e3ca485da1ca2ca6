using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace AdvRobust.Cpu;

/// <summary>
/// The CPU backend's fork-join loop: <c>For(from, to, body)</c> runs body(i) for every i in [from, to) on the calling
/// thread and ProcessorCount − 1 dedicated workers, and returns when all are done. Why not Parallel.For: an op of a
/// ResNet step on a small batch is tens of microseconds of work, and Parallel.For's hand-off through the thread pool
/// (queue, wake a sleeping pool thread, join) cost 54–113 µs per call for a 2 × 32k-float loop in a scratch loop on
/// this 2-core VM, against 18–29 µs for a spinning hand-off (measured while another session loaded the machine:
/// direction only). On the idle machine, a whole CIFAR ResNet-18 step at batch 8 (~250 such calls) showed no
/// difference beyond run-to-run noise between this pool and Parallel.For (ADVROBUST_CPU_WORKERS=0/1 alternated, 3
/// runs each). A worker that finished a loop spins for <see cref="SpinMicroseconds"/> waiting for the next one (an
/// op's successor is usually microseconds away) before it blocks; a blocked worker is woken by a monitor pulse. So an
/// idle process holds no core for more than that.
/// Indices are handed out in small chunks from a shared counter, so the split between threads varies from run to
/// run: every caller's result is independent of it (each index writes its own outputs), as with Parallel.For.
/// One loop at a time uses the workers: a call made while they are busy (another thread's op, e.g. two ranks as
/// threads in one process) runs through Parallel.For instead, and a call from inside a body (nested) runs serially on
/// its thread. The first exception a body throws is rethrown to the caller once every thread has stopped.
/// </summary>
internal static class CpuParallel
{
    /// <summary>How long an idle worker, or a caller waiting for the workers' last indices, spins before it blocks.
    /// </summary>
    public const int SpinMicroseconds = 200;

    /// <summary>ADVROBUST_CPU_WORKERS=0: every loop goes through Parallel.For instead (an A/B switch: results do not
    /// depend on it, only the hand-off cost does; benchmarks/winograd-ab.sh-style comparisons).</summary>
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("ADVROBUST_CPU_WORKERS") is not "0";

    private static readonly long SpinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
    private static readonly Worker[] Workers = StartWorkers(Enabled ? Environment.ProcessorCount - 1 : 0);
    private static readonly Job Shared = new();
    private static int _busy;

    /// <summary>True on a worker thread, and on a caller while it runs its share: nested loops run serially.</summary>
    [ThreadStatic] private static bool _inside;

    public static int Threads => Enabled ? Workers.Length + 1 : Environment.ProcessorCount;

    public static void For(int from, int to, Action<int> body) => For(from, to, 0, body);

    /// <param name="maxThreads">At most this many threads (0: all of them).</param>
    public static void For(int from, int to, int maxThreads, Action<int> body) =>
        For<object?>(from, to, maxThreads, () => null, (i, local) =>
        {
            body(i);
            return local;
        }, _ => { });

    /// <summary>With per-thread state: init once on each thread that takes part, body(i, state) → state, finish(state)
    /// once at that thread's end (scratch buffers rented and returned).</summary>
    public static void For<TLocal>(int from, int to, int maxThreads, Func<TLocal> init, Func<int, TLocal, TLocal> body,
        Action<TLocal> finish)
    {
        int count = to - from, threads = Math.Min(count, maxThreads > 0 ? Math.Min(maxThreads, Threads) : Threads);
        if (count <= 0) return;
        if (threads <= 1 || _inside)
        {
            var local = init();
            for (int i = from; i < to; i++) local = body(i, local);
            finish(local);
            return;
        }
        if (!Enabled || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            Parallel.For(from, to, new ParallelOptions { MaxDegreeOfParallelism = threads }, init,
                (i, _, local) => body(i, local), finish);
            return;
        }
        try
        {
            var job = Shared;
            job.Start(from, to, threads, () =>
            {
                var local = init();
                try
                {
                    int i;
                    while ((i = job.Next()) >= 0) local = body(i, local);
                }
                finally
                {
                    finish(local);
                }
            });
            for (int w = 0; w < threads - 1; w++) Workers[w].Post(job);
            _inside = true;
            try
            {
                job.RunShare();
            }
            finally
            {
                _inside = false;
            }
            job.WaitForHelpers(SpinTicks);
            if (job.Error is { } error) ExceptionDispatchInfo.Throw(error);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static Worker[] StartWorkers(int count)
    {
        var workers = new Worker[Math.Max(0, count)];
        for (int w = 0; w < workers.Length; w++) workers[w] = new Worker(w);
        return workers;
    }

    /// <summary>One loop: a counter of indices handed out in chunks, how many helpers are still running, the first
    /// error.</summary>
    private sealed class Job
    {
        private readonly ManualResetEventSlim _done = new();
        private int _next, _end, _chunk, _helpers;
        private Action? _share;
        public Exception? Error;

        public void Start(int from, int to, int threads, Action share)
        {
            (_next, _end, _share, Error) = (from, to, share, null);
            _chunk = Math.Max(1, (to - from) / (threads * 8));
            Volatile.Write(ref _helpers, threads - 1);
        }

        /// <summary>The next index to run, or −1 when none is left. Each call takes a chunk from the counter; the
        /// chunk's indices are returned one by one through the thread's cursor.</summary>
        public int Next()
        {
            ref var cursor = ref _cursor;
            if (cursor.Job != this || cursor.Index >= cursor.End)
            {
                if (Volatile.Read(ref _next) >= _end) return -1;
                int start = Interlocked.Add(ref _next, _chunk) - _chunk;
                if (start >= _end) return -1;
                cursor = (this, start, Math.Min(start + _chunk, _end));
            }
            return cursor.Index++;
        }

        [ThreadStatic] private static (Job? Job, int Index, int End) _cursor;

        /// <summary>This thread's part of the loop; an exception is kept (the first one) and stops the others.</summary>
        public void RunShare()
        {
            try
            {
                _share!();
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref Error, e, null);
                Volatile.Write(ref _next, _end);
            }
            finally
            {
                _cursor = default;
            }
        }

        public void HelperDone()
        {
            if (Interlocked.Decrement(ref _helpers) == 0) _done.Set();
        }

        /// <summary>Spins for spinTicks, then blocks, until every helper has finished its share.</summary>
        public void WaitForHelpers(long spinTicks)
        {
            long start = Stopwatch.GetTimestamp();
            var spin = new SpinWait();
            while (Volatile.Read(ref _helpers) > 0)
            {
                if (Stopwatch.GetTimestamp() - start < spinTicks)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                // The event may still be set by the previous loop's last helper (it sets it after its decrement):
                // so wait, clear it, and test the count again.
                _done.Wait();
                _done.Reset();
            }
            _share = null;
        }
    }

    /// <summary>A dedicated thread that runs its share of each posted job, spinning between jobs before it blocks.
    /// </summary>
    private sealed class Worker
    {
        private readonly object _gate = new();
        private volatile Job? _pending;

        public Worker(int index) =>
            new Thread(Loop) { IsBackground = true, Name = $"AdvRobust CPU worker {index + 1}" }.Start();

        public void Post(Job job)
        {
            lock (_gate)
            {
                _pending = job;
                Monitor.Pulse(_gate);
            }
        }

        private void Loop()
        {
            _inside = true;
            while (true)
            {
                var job = Take();
                job.RunShare();
                job.HelperDone();
            }
        }

        private Job Take()
        {
            long start = Stopwatch.GetTimestamp();
            var spin = new SpinWait();
            while (_pending is null && Stopwatch.GetTimestamp() - start < SpinTicks) spin.SpinOnce(sleep1Threshold: -1);
            lock (_gate)
            {
                while (_pending is null) Monitor.Wait(_gate);
                var job = _pending;
                _pending = null;
                return job;
            }
        }
    }
}
