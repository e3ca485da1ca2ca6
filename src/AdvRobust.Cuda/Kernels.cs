using System.Reflection;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// One typed launcher per kernel in kernels/*.cu; the grid and block arithmetic lives here and nowhere else.
/// Arguments are device pointers (ulong), counts and parameters, in the kernel's parameter order. Launches are
/// asynchronous on the context's stream. Families are split across partial files like the .cu files.
/// </summary>
public sealed unsafe partial class Kernels
{
    /// <summary>Threads per block for 1-D grid-stride kernels and per-row blocks (kernels assume 256).</summary>
    public const uint BlockSize = 256;

    private readonly CudaContext _context;
    private readonly KernelCache _cache;
    private readonly nint _stream;
    private readonly Lock _resolveGate = new();

    /// <summary>Each <see cref="KernelLaunch"/>'s CUfunction by its slot, filled on first launch (0: not yet).</summary>
    private nint[] _functions = new nint[128];

    public Kernels(CudaContext context, KernelCache cache)
    {
        _context = context;
        _cache = cache;
        _stream = context.Stream.DangerousGetHandle();
    }

    /// <summary>Blocks for a grid-stride loop over n items: enough to fill the device, no more than needed.</summary>
    private uint GridFor(long n) =>
        (uint)Math.Clamp((n + BlockSize - 1) / BlockSize, 1, (long)_context.Device.Multiprocessors * 32);

    /// <summary>
    /// Every kernel launch this class makes, with the block size and dynamic shared memory its launcher asks for: the
    /// <see cref="KernelLaunch"/> fields the launchers pass to <see cref="Launch"/>, read by reflection so that this
    /// list cannot drift from what is launched. The resource check (<see cref="KernelResources"/>) reads it. Computed on
    /// each call, not in a static initializer, which could run before the fields in the other partial files are set.
    /// </summary>
    public static IReadOnlyList<KernelLaunch> Launches => typeof(Kernels)
        .GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
        .Where(f => f.FieldType == typeof(KernelLaunch))
        .Select(f => (KernelLaunch)f.GetValue(null)!)
        .OrderBy(l => l.Family, StringComparer.Ordinal).ThenBy(l => l.Name, StringComparer.Ordinal)
        .ToList();

    /// <summary>
    /// Launches on the context's stream. The hot path is a table read and a thread-static check: no driver query, lock
    /// or dictionary lookup once the kernel's function handle is resolved (first launch) and the context is current.
    /// </summary>
    private void Launch(KernelLaunch kernel, uint grid, void** args)
    {
        var functions = _functions;
        nint fn = kernel.Slot < functions.Length ? functions[kernel.Slot] : 0;
        if (fn == 0) fn = Resolve(kernel);
        _context.MakeCurrent();
        var r = CudaDriver.cuLaunchKernel(fn, grid, 1, 1, kernel.BlockThreads, 1, 1, kernel.DynamicSharedBytes,
            _stream, args, null);
        if (r != CUresult.CUDA_SUCCESS)
            throw new CudaException(r, $"cuLaunchKernel({kernel.Name}, grid {grid}, block {kernel.BlockThreads}, " +
                                       $"shared {kernel.DynamicSharedBytes} B)");
    }

    private nint Resolve(KernelLaunch kernel)
    {
        _context.MakeCurrent();
        nint fn = _cache.Function(kernel.Family, kernel.Name);
        lock (_resolveGate)
        {
            var grown = _functions;
            if (kernel.Slot >= grown.Length) Array.Resize(ref grown, Math.Max(kernel.Slot + 1, grown.Length * 2));
            grown[kernel.Slot] = fn;
            _functions = grown;
        }
        return fn;
    }

    // ---- elementwise.cu ----
    private static readonly KernelLaunch FillF32 = new("elementwise", "fill_f32", BlockSize, 0);
    private static readonly KernelLaunch UnaryForwardF32 = new("elementwise", "unary_forward_f32", BlockSize, 0);
    private static readonly KernelLaunch UnaryBackwardF32 = new("elementwise", "unary_backward_f32", BlockSize, 0);
    private static readonly KernelLaunch BinaryForwardF32 = new("elementwise", "binary_forward_f32", BlockSize, 0);
    private static readonly KernelLaunch AxpbyF32 = new("elementwise", "axpby_f32", BlockSize, 0);
    private static readonly KernelLaunch ClampF32 = new("elementwise", "clamp_f32", BlockSize, 0);
    private static readonly KernelLaunch GatherRowsF32 = new("elementwise", "gather_rows_f32", BlockSize, 0);

    public void Fill(ulong y, float value, long n)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &y, &value, &n };
        Launch(FillF32, GridFor(n), a);
    }

    public void UnaryForward(ulong x, ulong y, long n, int op)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &n, &op };
        Launch(UnaryForwardF32, GridFor(n), a);
    }

    public void UnaryBackward(ulong x, ulong dy, ulong dx, long n, int op)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &dy, &dx, &n, &op };
        Launch(UnaryBackwardF32, GridFor(n), a);
    }

    public void BinaryForward(ulong x, ulong y, ulong z, long n, int op)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &z, &n, &op };
        Launch(BinaryForwardF32, GridFor(n), a);
    }

    public void Axpby(ulong x, ulong y, float alpha, float beta, long n)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &alpha, &beta, &n };
        Launch(AxpbyF32, GridFor(n), a);
    }

    public void Clamp(ulong x, ulong y, float lo, float hi, long n)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &lo, &hi, &n };
        Launch(ClampF32, GridFor(n), a);
    }

    public void GatherRows(ulong src, ulong index, ulong dst, int rows, int d)
    {
        if ((long)rows * d == 0) return;
        void** a = stackalloc void*[] { &src, &index, &dst, &rows, &d };
        Launch(GatherRowsF32, GridFor((long)rows * d), a);
    }

    // ---- reduce.cu ----
    private static readonly KernelLaunch ReduceRowsF32 = new("reduce", "reduce_rows_f32", BlockSize, 0);

    public void ReduceRows(ulong x, ulong y, long rows, int cols, int op)
    {
        if (rows == 0) return;
        void** a = stackalloc void*[] { &x, &y, &rows, &cols, &op };
        Launch(ReduceRowsF32, (uint)Math.Min(rows, 65535L * 32), a);
    }
}
