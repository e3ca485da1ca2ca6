namespace AdvRobust.Cpu;

/// <summary>
/// Splits an elementwise loop over [0, length) into contiguous chunks, one per core, once there are at least
/// two chunks of <see cref="MinChunk"/> elements; smaller tensors run on the calling thread. Chunk lengths are
/// multiples of 64 elements. Each element is computed on its own, and the vector and scalar forms of every op give
/// the same bits (ElementwisePathTests checks it), so the result does not depend on the number of chunks.
/// </summary>
internal static class ElementwiseChunks
{
    /// <summary>32k floats (128 KiB): parallel from 64k elements on two cores.</summary>
    public const int MinChunk = 32 * 1024;

    public static void For(long length, Action<int, int> body)
    {
        int n = checked((int)length);
        int chunks = Math.Min(Environment.ProcessorCount, n / MinChunk);
        if (chunks < 2)
        {
            body(0, n);
            return;
        }
        int size = ((n + chunks - 1) / chunks + 63) & ~63;
        CpuParallel.For(0, chunks, i =>
        {
            int start = Math.Min(i * size, n);
            body(start, Math.Min(size, n - start));
        });
    }
}
