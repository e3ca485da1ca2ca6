using System.Runtime.InteropServices;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

/// <summary>
/// The GPU peer of CpuBackend: the same ops through our kernels (kernels/*.cu), cuBLAS and cuDNN, all on one stream.
/// Ops are asynchronous; CopyOut and Synchronize wait. Op families live in partial files like CpuBackend's.
/// </summary>
public sealed partial class CudaBackend : IBackend, IMemoryInfo
{
    private CudaBackend(CudaContext context)
    {
        Context = context;
        KernelCache = new KernelCache(context);
        Kernels = new Kernels(context, KernelCache);
        Graphs = new CudaGraphCapture(context);
    }

    public CudaContext Context { get; }
    public KernelCache KernelCache { get; }
    public Kernels Kernels { get; }

    /// <summary>Step capture as CUDA graphs (<see cref="Core.Graphs.StepGraph"/>); <c>Graphs.Enabled = false</c> turns it off.</summary>
    public CudaGraphCapture Graphs { get; }

    Core.Graphs.IGraphCapture? IBackend.GraphCapture => Graphs;

    public string Name => "cuda";
    public string DeviceName => Context.Device.ToString();

    /// <summary>Free device memory as the driver reports it (cuMemGetInfo); what the stream-ordered pool caches for
    /// reuse is not counted, so the figure errs low.</summary>
    public long AvailableBytes => Context.MemoryInfo().Free;

    /// <summary>Opens device <paramref name="ordinal"/>; throws with the reason (no driver, no device, ...) otherwise.</summary>
    public static CudaBackend Create(int ordinal = 0, bool allowTf32 = false, bool deterministic = false) =>
        new(CudaContext.Create(ordinal)) { Context = { AllowTf32 = allowTf32 }, Deterministic = deterministic };

    /// <summary>
    /// Run-to-run identical results on the same device: cuDNN may then only pick convolution algorithms it reports as
    /// CUDNN_DETERMINISTIC (some backward-filter and backward-data algorithms add with atomics, in whatever order
    /// the blocks finish). Everything else is deterministic already: our kernels never use atomics (each output is
    /// reduced by one block in a fixed order, see the kernel headers), and cuBLAS runs with its atomics mode off,
    /// its default. Costs some convolution speed; off by default.
    /// </summary>
    public bool Deterministic
    {
        get => _deterministic;
        set
        {
            _deterministic = value;
            if (_convolutions is not null) _convolutions.Deterministic = value;
        }
    }

    private bool _deterministic;

    public Storage Allocate(DType dtype, long length) =>
        new CudaStorage(this, dtype, length, Context.Allocate(length * dtype.SizeInBytes()));

    public void CopyIn<T>(Storage dst, ReadOnlySpan<T> src) where T : unmanaged
    {
        if (src.Length != dst.Length)
            throw new ArgumentException($"CopyIn: {src.Length} values into a storage of {dst.Length}");
        Context.CopyToDevice(((CudaStorage)dst).Pointer, MemoryMarshal.AsBytes(src));
        dst.MarkWritten();
    }

    public void CopyOut<T>(Storage src, Span<T> dst) where T : unmanaged
    {
        if (dst.Length != src.Length)
            throw new ArgumentException($"CopyOut: a storage of {src.Length} into {dst.Length} values");
        Context.CopyToHost(MemoryMarshal.AsBytes(dst), ((CudaStorage)src).Pointer);
    }

    public void Copy(Tensor src, Tensor dst) => Context.CopyDeviceToDevice(P(dst), P(src), src.Storage.Bytes);

    public void CopyRange(Tensor src, long srcOffset, Tensor dst, long dstOffset, long count)
    {
        long size = src.DType.SizeInBytes();
        Context.CopyDeviceToDevice(P(dst) + (ulong)(dstOffset * size), P(src) + (ulong)(srcOffset * size), count * size);
    }

    public void Synchronize() => Context.Synchronize();

    public void Dispose()
    {
        DisposeNn();
        KernelCache.Dispose();
        Context.Dispose();
    }

    /// <summary>The device pointer of a tensor on this backend.</summary>
    internal static ulong P(Tensor t) => ((CudaStorage)t.Storage).Pointer;

    /// <summary>A scratch buffer from the pool; disposing it frees it in stream order, after the work that uses it.</summary>
    internal DeviceMemoryHandle Scratch(long floats) => Context.Allocate(floats * sizeof(float));
}
