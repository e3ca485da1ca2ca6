namespace AdvRobust.Core.Serialization;

/// <summary>
/// An n-dimensional array as stored in a NumPy .npy file: a dtype string (NumPy's <c>descr</c>: "&lt;f4", "|u1",
/// "&lt;i4", "&lt;i8", "&lt;f8"), a C-order shape and the flat data. Read the data with the accessor of its dtype;
/// the others throw, naming both types.
/// </summary>
public sealed record NpyArray
{
    public const string Float32 = "<f4", UInt8 = "|u1", Int32 = "<i4", Int64 = "<i8", Float64 = "<f8";

    private readonly Array _data;

    private NpyArray(string dtype, int[] shape, Array data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"shape ({string.Join(", ", shape)}) has a negative dimension");
            count = checked(count * d);
        }
        if (count != data.LongLength)
            throw new ArgumentException(
                $"shape ({string.Join(", ", shape)}) has {count} elements but the data has {data.LongLength}");
        (DType, Shape, _data) = (dtype, (int[])shape.Clone(), data);
    }

    /// <summary>NumPy's descr of the elements, e.g. "&lt;f4".</summary>
    public string DType { get; }

    /// <summary>The dimensions, C order (last index fastest). Empty for a scalar.</summary>
    public int[] Shape { get; }

    /// <summary>The number of elements: the product of <see cref="Shape"/>.</summary>
    public long Count => _data.LongLength;

    /// <summary>The data as an untyped array (float[], byte[], int[], long[] or double[]).</summary>
    public Array Data => _data;

    public static NpyArray Create(int[] shape, float[] data) => new(Float32, shape, data);
    public static NpyArray Create(int[] shape, byte[] data) => new(UInt8, shape, data);
    public static NpyArray Create(int[] shape, int[] data) => new(Int32, shape, data);
    public static NpyArray Create(int[] shape, long[] data) => new(Int64, shape, data);
    public static NpyArray Create(int[] shape, double[] data) => new(Float64, shape, data);

    public float[] AsFloat() => As<float>(Float32, nameof(AsFloat));
    public byte[] AsBytes() => As<byte>(UInt8, nameof(AsBytes));
    public int[] AsInt32() => As<int>(Int32, nameof(AsInt32));
    public long[] AsInt64() => As<long>(Int64, nameof(AsInt64));
    public double[] AsDouble() => As<double>(Float64, nameof(AsDouble));

    /// <summary>Bytes per element of a supported dtype; throws for any other.</summary>
    public static int ElementSize(string dtype) => dtype switch
    {
        Float32 or Int32 => 4,
        UInt8 => 1,
        Int64 or Float64 => 8,
        _ => throw new NotSupportedException($"dtype '{dtype}' is not supported; expected one of {Supported}"),
    };

    internal const string Supported = "'<f4', '|u1', '<i4', '<i8', '<f8'";

    /// <summary>An array of <paramref name="dtype"/> and <paramref name="shape"/> whose data is zeroed.</summary>
    internal static NpyArray Allocate(string dtype, int[] shape, long count) => dtype switch
    {
        Float32 => new(dtype, shape, new float[count]),
        UInt8 => new(dtype, shape, new byte[count]),
        Int32 => new(dtype, shape, new int[count]),
        Int64 => new(dtype, shape, new long[count]),
        Float64 => new(dtype, shape, new double[count]),
        _ => throw new NotSupportedException($"dtype '{dtype}' is not supported; expected one of {Supported}"),
    };

    private T[] As<T>(string dtype, string accessor)
    {
        if (_data is T[] typed && DType == dtype) return typed;
        throw new InvalidOperationException(
            $"{accessor}() needs dtype '{dtype}', but this array of shape ({string.Join(", ", Shape)}) has dtype " +
            $"'{DType}'; use {AccessorFor(DType)}()");
    }

    private static string AccessorFor(string dtype) => dtype switch
    {
        Float32 => nameof(AsFloat),
        UInt8 => nameof(AsBytes),
        Int32 => nameof(AsInt32),
        Int64 => nameof(AsInt64),
        _ => nameof(AsDouble),
    };
}
