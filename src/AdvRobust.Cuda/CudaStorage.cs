using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

/// <summary>A tensor's device memory: a pooled, stream-ordered allocation owned by a SafeHandle.</summary>
public sealed class CudaStorage : Storage
{
    private readonly DeviceMemoryHandle _memory;

    internal CudaStorage(IBackend backend, DType dtype, long length, DeviceMemoryHandle memory)
        : base(backend, dtype, length) => _memory = memory;

    public ulong Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _memory.Pointer;
        }
    }

    protected override void Free() => _memory.Dispose();
}
