namespace AdvRobust.Core.Tensors;

/// <summary>
/// A dense, contiguous, row-major tensor: a shape plus a storage owned by one backend. No math lives here;
/// ops live in <c>AdvRobust.Core.Ops</c> and are carried out by <see cref="IBackend"/>.
/// </summary>
public sealed class Tensor : IDisposable
{
    private Tensor(Storage storage, Shape shape)
    {
        if (shape.Elements != storage.Length)
            throw new ArgumentException($"shape {shape} has {shape.Elements} elements but the storage holds {storage.Length}");
        Storage = storage;
        Shape = shape;
    }

    public Storage Storage { get; }
    public Shape Shape { get; }
    public IBackend Backend => Storage.Backend;
    public DType DType => Storage.DType;
    public long Length => Storage.Length;
    public int Rank => Shape.Rank;

    public static Tensor Empty(IBackend backend, DType dtype, params int[] dims)
    {
        var shape = new Shape(dims);
        return new Tensor(backend.Allocate(dtype, shape.Elements), shape);
    }

    public static Tensor Zeros(IBackend backend, params int[] dims)
    {
        var t = Empty(backend, DType.Float32, dims);
        backend.Fill(t, 0f);
        return t;
    }

    public static Tensor FromArray<T>(IBackend backend, ReadOnlySpan<T> data, params int[] dims) where T : unmanaged
    {
        var shape = new Shape(dims);
        if (shape.Elements != data.Length)
            throw new ArgumentException($"{data.Length} values do not fill shape {shape} ({shape.Elements} elements)");
        var t = new Tensor(backend.Allocate(DTypeExtensions.Of<T>(), shape.Elements), shape);
        backend.CopyIn(t.Storage, data);
        return t;
    }

    public static Tensor FromArray(IBackend backend, float[] data, params int[] dims) =>
        FromArray<float>(backend, data, dims);

    public static Tensor FromArray(IBackend backend, int[] data, params int[] dims) =>
        FromArray<int>(backend, data, dims);

    /// <summary>The same storage seen with another shape of the same element count (no copy).</summary>
    public Tensor View(params int[] dims) => new(Storage, new Shape(dims)) { _isView = true };

    private bool _isView;

    public T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeExtensions.Of<T>() != DType)
            throw new InvalidOperationException($"tensor holds {DType}, not {typeof(T).Name}");
        var result = new T[Length];
        Backend.CopyOut(Storage, result.AsSpan());
        return result;
    }

    public float[] ToArray() => ToArray<float>();

    /// <summary>Copies this tensor to another backend (e.g. CUDA → CPU for a parity check).</summary>
    public Tensor To(IBackend target) => DType switch
    {
        DType.Float32 => FromArray<float>(target, ToArray<float>(), Shape.Dims.ToArray()),
        DType.Int32 => FromArray<int>(target, ToArray<int>(), Shape.Dims.ToArray()),
        _ => throw new NotSupportedException(DType.ToString()),
    };

    /// <summary>Frees the storage; a view does not own its storage and leaves it alone.</summary>
    public void Dispose()
    {
        if (!_isView) Storage.Dispose();
    }

    public override string ToString() => $"Tensor{Shape} {DType} on {Backend.Name}";
}
