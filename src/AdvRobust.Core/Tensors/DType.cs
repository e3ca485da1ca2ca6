namespace AdvRobust.Core.Tensors;

/// <summary>Element types a tensor can hold. Images, weights and embeddings are Float32; labels and indices Int32.</summary>
public enum DType
{
    Float32,
    Int32,
}

public static class DTypeExtensions
{
    public static int SizeInBytes(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Int32 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32
        : typeof(T) == typeof(int) ? DType.Int32
        : throw new NotSupportedException($"no dtype for {typeof(T).Name}; tensors hold float or int");
}
