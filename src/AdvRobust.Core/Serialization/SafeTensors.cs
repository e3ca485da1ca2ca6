using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TensorBytes = (string Name, string DType, int[] Shape, System.ReadOnlyMemory<byte> Data);

namespace AdvRobust.Core.Serialization;

/// <summary>
/// The safetensors format (huggingface/safetensors), as PyTorch's <c>safetensors.torch.save_file</c> writes it:
/// 8 bytes N (uint64 little-endian), N bytes of UTF-8 JSON header, then the data section. The header maps each
/// tensor name to {"dtype", "shape", "data_offsets": [begin, end)} with offsets relative to the data section, plus
/// an optional "__metadata__" map of strings to strings. Elements are little-endian, C order.
///
/// Writing follows the reference implementation byte for byte: tensors sorted by dtype alignment, largest first,
/// then by name; their data packed back to back in that order; the header written compactly in the same order
/// (after "__metadata__") and padded with spaces to a multiple of 8 bytes, so the data section starts 8-byte
/// aligned and every tensor starts at a multiple of its element size. The file is written atomically
/// (<see cref="AtomicFile"/>). Reading accepts any tensor order and validates everything (SafeTensors.Read.cs).
/// </summary>
public static partial class SafeTensors
{
    /// <summary>The reference implementation's limit on the header size.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Supported dtypes: bytes per element, and rank in the reference's Dtype enum (its sort key).</summary>
    private static readonly Dictionary<string, (int Size, int Rank)> DTypes = new(StringComparer.Ordinal)
    {
        ["U8"] = (1, 1), ["I32"] = (4, 9), ["F32"] = (4, 11), ["I64"] = (8, 13),
    };

    private static readonly JsonWriterOptions CompactJson = new()
    {
        Indented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // UTF-8 passes through, as serde_json writes it
    };

    /// <summary>Bytes per element of <paramref name="dtype"/>, or 0 when it is not supported.</summary>
    public static int ElementSize(string dtype) => DTypes.TryGetValue(dtype, out var d) ? d.Size : 0;

    /// <summary>Writes tensors of any supported dtype atomically to <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<TensorBytes> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var (header, ordered) = Prepare(path, tensors, metadata);
        AtomicFile.Write(path, stream => WriteTo(stream, header, ordered));
    }

    /// <summary>Writes F32 tensors atomically to <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, AsBytes(tensors), metadata);

    /// <summary>The bytes that Write puts in a file for these tensors.</summary>
    public static byte[] Serialize(IReadOnlyList<TensorBytes> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var (header, ordered) = Prepare("(in memory)", tensors, metadata);
        using var stream = new MemoryStream();
        WriteTo(stream, header, ordered);
        return stream.ToArray();
    }

    private static IReadOnlyList<(string, string, int[], ReadOnlyMemory<byte>)> AsBytes(
        IReadOnlyList<(string Name, int[] Shape, float[] Data)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return tensors.Select(t => (t.Name, "F32", t.Shape,
            (ReadOnlyMemory<byte>)MemoryMarshal.AsBytes(t.Data.AsSpan()).ToArray())).ToList();
    }

    private static void WriteTo(Stream stream, byte[] header, List<TensorBytes> ordered)
    {
        Span<byte> n = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)header.Length);
        stream.Write(n);
        stream.Write(header);
        foreach (var t in ordered) stream.Write(t.Data.Span);
    }

    /// <summary>Validates the tensors, orders them as the reference does, and builds the padded header.</summary>
    private static (byte[] Header, List<TensorBytes> Ordered) Prepare(
        string path, IReadOnlyList<TensorBytes> tensors,
        IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors I/O assumes a little-endian host");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, dtype, shape, data) in tensors)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__")
                throw new ArgumentException($"{path}: invalid tensor name '{name}'");
            if (!names.Add(name)) throw new ArgumentException($"{path}: duplicate tensor name '{name}'");
            if (!DTypes.TryGetValue(dtype ?? "", out var info))
                throw new ArgumentException(
                    $"{path}: tensor '{name}': dtype '{dtype}' is not supported (F32, I64, I32, U8)");
            ArgumentNullException.ThrowIfNull(shape, name);
            long count = 1;
            string dims = string.Join(",", shape);
            foreach (int d in shape)
            {
                if (d < 0)
                    throw new ArgumentException($"{path}: tensor '{name}': shape [{dims}] has a negative dimension");
                count = checked(count * d);
            }
            if (count * info.Size != data.Length)
                throw new ArgumentException(
                    $"{path}: tensor '{name}': shape [{dims}] of {dtype} needs {count * info.Size} bytes, " +
                    $"the data has {data.Length}");
        }

        var ordered = tensors.ToList();
        // The reference sorts by dtype descending (so alignment never decreases), then by name (byte order of UTF-8).
        ordered.Sort((a, b) =>
        {
            int byType = DTypes[b.DType].Rank.CompareTo(DTypes[a.DType].Rank);
            return byType != 0
                ? byType
                : Encoding.UTF8.GetBytes(a.Name).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b.Name));
        });

        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json, CompactJson))
        {
            w.WriteStartObject();
            if (metadata is not null)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    w.WriteString(key, value ?? throw new ArgumentException($"{path}: metadata '{key}' is null"));
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, dtype, shape, data) in ordered)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype);
                w.WriteStartArray("shape");
                foreach (int d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += data.Length;
            }
            w.WriteEndObject();
        }
        int length = (int)json.Length, padded = (length + 7) / 8 * 8;
        var header = new byte[padded];
        json.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return (header, ordered);
    }
}
