namespace AdvRobust.Core;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the calling thread, in order. <see cref="Progress{T}"/> posts each report
/// to the thread pool, so a progress bar could see them late and out of order, and a test could miss the last one.
/// </summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
