using System.Runtime.InteropServices;

namespace AdvRobust.Core.Serialization;

/// <summary>One tensor of a safetensors file: name, dtype ("F32", "I64", "I32", "U8"), C-order shape and its raw
/// little-endian bytes.</summary>
public sealed record SafeTensorEntry(string Name, string DType, int[] Shape, ReadOnlyMemory<byte> Data)
{
    /// <summary>The number of elements: the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long Count
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>The elements of an F32 tensor (a copy).</summary>
    public float[] ToFloats() => Cast<float>("F32");

    /// <summary>The elements of an I64 tensor (a copy).</summary>
    public long[] ToInt64() => Cast<long>("I64");

    /// <summary>The elements of an I32 tensor (a copy).</summary>
    public int[] ToInt32() => Cast<int>("I32");

    private T[] Cast<T>(string dtype) where T : unmanaged
    {
        if (DType != dtype)
            throw new InvalidOperationException($"tensor '{Name}' has dtype {DType}, not {dtype}");
        return MemoryMarshal.Cast<byte, T>(Data.Span).ToArray();
    }
}

/// <summary>The contents of a safetensors file: its tensors in file (data offset) order and its metadata.</summary>
public sealed class SafeTensorsFile
{
    private readonly Dictionary<string, SafeTensorEntry> _byName;

    internal SafeTensorsFile(string path, IReadOnlyList<SafeTensorEntry> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        (Path, Tensors, Metadata) = (path, tensors, metadata);
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file it was read from.</summary>
    public string Path { get; }

    public IReadOnlyList<SafeTensorEntry> Tensors { get; }

    /// <summary>The "__metadata__" map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public bool TryGet(string name, out SafeTensorEntry entry) => _byName.TryGetValue(name, out entry!);

    public SafeTensorEntry this[string name] => _byName.TryGetValue(name, out var entry)
        ? entry
        : throw new KeyNotFoundException(
            $"{Path}: no tensor named '{name}' (it has {string.Join(", ", _byName.Keys.Select(k => $"'{k}'"))})");

    /// <summary>The elements of F32 tensor <paramref name="name"/>.</summary>
    public float[] GetFloats(string name) => this[name].ToFloats();
}
