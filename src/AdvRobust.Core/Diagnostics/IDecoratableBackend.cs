using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Diagnostics;

/// <summary>
/// A backend whose storage can name another backend as its owner. Ops reach a backend through <c>tensor.Backend</c>
/// (the storage's owner), so a decorator such as <c>AdvRobust.Cpu.Diagnostics.CountingBackend</c> allocates through
/// this: the buffer is the inner backend's own kind (what its ops expect), and every op on it comes through the
/// decorator. <see cref="IBackend.Allocate"/> is <c>AllocateFor(this, ...)</c>.
/// </summary>
public interface IDecoratableBackend
{
    Storage AllocateFor(IBackend owner, DType dtype, long length);
}
