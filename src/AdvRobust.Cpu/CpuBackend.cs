using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

/// <summary>
/// The reference backend: plain, readable loops (double accumulators for reductions), SIMD only where it is
/// needed to train a small CNN on two cores (elementwise ops and the SGEMM). Every CUDA kernel has its twin here
/// with the same signature; the op families live in partial files (CpuBackend.Elementwise.cs, .Pgd.cs, ...).
/// </summary>
public sealed partial class CpuBackend : IBackend
{
    public static CpuBackend Instance { get; } = new();

    public string Name => "cpu";

    public string DeviceName =>
        $"CPU ({Environment.ProcessorCount} cores, " +
        (System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "AVX-512"
            : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "AVX2" : "no AVX2") +
        (System.Runtime.Intrinsics.X86.Fma.IsSupported ? "+FMA" : "") + ")";

    private readonly CpuMemoryPool _pool;

    /// <param name="maxCachedBytes">The most bytes of freed tensors kept for reuse (see <see cref="CpuMemoryPool"/>).</param>
    public CpuBackend(long maxCachedBytes = CpuMemoryPool.DefaultMaxCachedBytes) => _pool = new CpuMemoryPool(maxCachedBytes);

    /// <summary>No graphs: a <see cref="Core.Graphs.StepGraph"/> on the CPU runs every step eagerly.</summary>
    public Core.Graphs.IGraphCapture? GraphCapture => null;

    public Storage Allocate(DType dtype, long length) => new CpuStorage(this, _pool, dtype, length);

    /// <summary>Bytes of freed tensors kept for reuse (see <see cref="CpuMemoryPool"/>).</summary>
    public long CachedBytes => _pool.CachedBytes;

    /// <summary>
    /// Debug aid, process-wide: every new CPU tensor starts as NaN (ints as −1) instead of whatever its reused buffer
    /// held, so an op that reads memory it did not write fails loudly. The test suite turns it on.
    /// </summary>
    public static bool PoisonNewTensors
    {
        get => CpuMemoryPool.Poison;
        set => CpuMemoryPool.Poison = value;
    }

    /// <summary>Gives every cached buffer back to the GC.</summary>
    public void TrimCache() => _pool.Trim();

    public void CopyIn<T>(Storage dst, ReadOnlySpan<T> src) where T : unmanaged
    {
        var span = ((CpuStorage)dst).AsSpan<T>();
        if (src.Length != span.Length)
            throw new ArgumentException($"CopyIn: {src.Length} values into a storage of {span.Length}");
        src.CopyTo(span);
        dst.MarkWritten();
    }

    public void CopyOut<T>(Storage src, Span<T> dst) where T : unmanaged
    {
        var span = ((CpuStorage)src).AsSpan<T>();
        if (dst.Length != span.Length)
            throw new ArgumentException($"CopyOut: a storage of {span.Length} into {dst.Length} values");
        span.CopyTo(dst);
    }

    public void Copy(Tensor src, Tensor dst) =>
        ((CpuStorage)src.Storage).AsSpan<byte>().CopyTo(((CpuStorage)dst.Storage).AsSpan<byte>());

    public void CopyRange(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count)
    {
        int size = src.DType.SizeInBytes();
        ((CpuStorage)src.Storage).AsSpan<byte>().Slice(checked((int)(srcOffset * size)), checked((int)(count * size)))
            .CopyTo(((CpuStorage)dst.Storage).AsSpan<byte>().Slice(checked((int)(dstOffset * size))));
    }

    public void Synchronize()
    {
    }

    public void Dispose()
    {
    }
}
