using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>Owns the device tensors and state of one attack run and frees them together (deterministically, not by
/// GC).</summary>
internal sealed class Scratch : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public T Own<T>(T t) where T : IDisposable
    {
        _owned.Add(t);
        return t;
    }

    public Tensor Like(Tensor x) => Own(Rows.Like(x));
    public Tensor CopyOf(Tensor x) => Own(Rows.CopyOf(x));
    public Tensor Zeros(Tensor x) => Own(Tensor.Zeros(x.Backend, x.Shape.Dims.ToArray()));

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}
