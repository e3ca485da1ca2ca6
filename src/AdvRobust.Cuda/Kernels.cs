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

    public Kernels(CudaContext context, KernelCache cache)
    {
        _context = context;
        _cache = cache;
    }

    /// <summary>Blocks for a grid-stride loop over n items: enough to fill the device, no more than needed.</summary>
    private uint GridFor(long n) =>
        (uint)Math.Clamp((n + BlockSize - 1) / BlockSize, 1, (long)_context.Device.Multiprocessors * 32);

    private void Launch(string family, string name, uint grid, uint block, uint sharedBytes, void** args)
    {
        _context.MakeCurrent();
        nint fn = _cache.Function(family, name);
        var r = CudaDriver.cuLaunchKernel(fn, grid, 1, 1, block, 1, 1, sharedBytes, _context.Stream.DangerousGetHandle(),
            args, null);
        if (r != CUresult.CUDA_SUCCESS)
            throw new CudaException(r, $"cuLaunchKernel({name}, grid {grid}, block {block}, shared {sharedBytes} B)");
    }

    // ---- elementwise.cu ----
    public void Fill(ulong y, float value, long n)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &y, &value, &n };
        Launch("elementwise", "fill_f32", GridFor(n), BlockSize, 0, a);
    }

    public void UnaryForward(ulong x, ulong y, long n, int op)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &n, &op };
        Launch("elementwise", "unary_forward_f32", GridFor(n), BlockSize, 0, a);
    }

    public void UnaryBackward(ulong x, ulong dy, ulong dx, long n, int op)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &dy, &dx, &n, &op };
        Launch("elementwise", "unary_backward_f32", GridFor(n), BlockSize, 0, a);
    }

    public void BinaryForward(ulong x, ulong y, ulong z, long n, int op)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &z, &n, &op };
        Launch("elementwise", "binary_forward_f32", GridFor(n), BlockSize, 0, a);
    }

    public void Axpby(ulong x, ulong y, float alpha, float beta, long n)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &alpha, &beta, &n };
        Launch("elementwise", "axpby_f32", GridFor(n), BlockSize, 0, a);
    }

    public void Clamp(ulong x, ulong y, float lo, float hi, long n)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &lo, &hi, &n };
        Launch("elementwise", "clamp_f32", GridFor(n), BlockSize, 0, a);
    }

    public void GatherRows(ulong src, ulong index, ulong dst, int rows, int d)
    {
        if ((long)rows * d == 0) return;
        void** a = stackalloc void*[] { &src, &index, &dst, &rows, &d };
        Launch("elementwise", "gather_rows_f32", GridFor((long)rows * d), BlockSize, 0, a);
    }

    // ---- reduce.cu ----
    public void ReduceRows(ulong x, ulong y, long rows, int cols, int op)
    {
        if (rows == 0) return;
        void** a = stackalloc void*[] { &x, &y, &rows, &cols, &op };
        Launch("reduce", "reduce_rows_f32", (uint)Math.Min(rows, 65535L * 32), BlockSize, 0, a);
    }
}
