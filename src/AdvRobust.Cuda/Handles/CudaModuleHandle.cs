using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>A loaded module (fatbin, cubin or PTX image) and lookup of its kernels.</summary>
public sealed class CudaModuleHandle : SafeHandle
{
    private CudaContextHandle? _context;

    public CudaModuleHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static unsafe CudaModuleHandle Load(CudaContextHandle context, ReadOnlySpan<byte> image, string what)
    {
        context.MakeCurrent();
        nint module;
        fixed (byte* p = image)
        {
            var r = CudaDriver.cuModuleLoadData(out module, (nint)p);
            if (r != CUresult.CUDA_SUCCESS) throw new CudaException(r, $"cuModuleLoadData({what})");
        }
        var h = new CudaModuleHandle { _context = context };
        context.AddReference();
        h.SetHandle(module);
        return h;
    }

    /// <summary>The kernel entry point of this name; a missing one names the kernel.</summary>
    public nint GetFunction(string name)
    {
        var r = CudaDriver.cuModuleGetFunction(out nint fn, handle, name);
        if (r != CUresult.CUDA_SUCCESS) throw new CudaException(r, $"cuModuleGetFunction(\"{name}\")", "is the kernel extern \"C\"?");
        return fn;
    }

    protected override bool ReleaseHandle()
    {
        CudaContextHandle.BindForRelease(_context!.DangerousGetHandle());
        bool ok = CudaDriver.cuModuleUnload(handle) == CUresult.CUDA_SUCCESS;
        _context.ReleaseReference();
        return ok;
    }
}
