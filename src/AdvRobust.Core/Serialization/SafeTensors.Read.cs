using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace AdvRobust.Core.Serialization;

public static partial class SafeTensors
{
    private static readonly UTF8Encoding StrictUtf8 =
        new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Reads and validates a safetensors file: the header length lies within the file (and the 100 MB limit), the
    /// header is UTF-8 JSON starting with '{', every tensor has a supported dtype, a shape of non-negative integers
    /// and data_offsets [begin, end) inside the data section with end - begin = product(shape)·sizeof(dtype), and the
    /// tensors, in offset order, cover the data section exactly: contiguous, without overlap, gap or trailing bytes.
    /// Every violation throws <see cref="InvalidDataException"/> naming the file and the tensor.
    /// </summary>
    public static SafeTensorsFile Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long fileLength = file.Length;
        Span<byte> nBytes = stackalloc byte[8];
        if (fileLength < 8 || Npy.ReadFully(file, nBytes) < 8)
            throw new InvalidDataException(
                $"{path}: {fileLength} bytes is too short for a safetensors file (expected at least 8)");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(nBytes);
        if (n > MaxHeaderBytes)
            throw new InvalidDataException(
                $"{path}: header length {n} exceeds the {MaxHeaderBytes}-byte limit (file has {fileLength} bytes)");
        if (8 + (long)n > fileLength)
            throw new InvalidDataException(
                $"{path}: header length {n} runs past the end of the file: the header would end at byte " +
                $"{8 + (long)n}, the file has {fileLength} bytes");
        var headerBytes = new byte[n];
        Npy.ReadFully(file, headerBytes);
        long dataStart = 8 + (long)n, dataLength = fileLength - dataStart;

        var (entries, metadata) = ParseHeader(path, headerBytes, dataLength);
        var tensors = new List<SafeTensorEntry>(entries.Count);
        foreach (var e in entries)
        {
            var data = new byte[e.End - e.Begin];
            file.Position = dataStart + e.Begin;
            int got = Npy.ReadFully(file, data);
            if (got < data.Length) // the file shrank while we read it
                throw new InvalidDataException($"{path}: tensor '{e.Name}': expected {data.Length} bytes, found {got}");
            tensors.Add(new SafeTensorEntry(e.Name, e.DType, e.Shape, data));
        }
        return new SafeTensorsFile(path, tensors, metadata);
    }

    /// <summary>All F32 tensors of the file by name (any other dtype is an error naming the tensor).</summary>
    public static IReadOnlyDictionary<string, (int[] Shape, float[] Data)> ReadFloats(string path)
    {
        var file = Read(path);
        var result = new OrderedDictionary<string, (int[], float[])>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            if (t.DType != "F32")
                throw new InvalidDataException($"{path}: tensor '{t.Name}' has dtype {t.DType}, expected F32");
            result.Add(t.Name, (t.Shape, t.ToFloats()));
        }
        return result;
    }

    private readonly record struct HeaderEntry(string Name, string DType, int[] Shape, long Begin, long End);

    private static (List<HeaderEntry>, IReadOnlyDictionary<string, string>) ParseHeader(string path, byte[] header,
        long dataLength)
    {
        string text;
        try { text = StrictUtf8.GetString(header); }
        catch (DecoderFallbackException) { throw new InvalidDataException($"{path}: header is not valid UTF-8"); }
        if (text.Length == 0 || text[0] != '{')
            throw new InvalidDataException($"{path}: header does not start with '{{' (found {Preview(text)})");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: header is not valid JSON: {e.Message}", e); }

        var entries = new List<HeaderEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using (doc)
        {
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                string name = property.Name;
                if (!seen.Add(name))
                    throw new InvalidDataException($"{path}: the header names '{TextPreview.Escape(name)}' twice");
                if (name == "__metadata__") ReadMetadata(path, property.Value, metadata);
                else entries.Add(ReadEntry(path, name, property.Value, dataLength));
            }
        }

        // Contiguity in offset order: each tensor starts where the previous one ended, the last ends the file.
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long cursor = 0;
        string previous = "";
        foreach (var e in entries)
        {
            if (e.Begin < cursor)
                throw new InvalidDataException(
                    $"{path}: tensor '{e.Name}' data_offsets [{e.Begin},{e.End}] overlap tensor '{previous}', " +
                    $"which ends at {cursor}");
            if (e.Begin > cursor)
                throw new InvalidDataException(
                    $"{path}: tensor '{e.Name}' starts at {e.Begin} but the data before it ends at {cursor}" +
                    (previous.Length > 0 ? $" (tensor '{previous}')" : "") + $": a gap of {e.Begin - cursor} bytes");
            (cursor, previous) = (e.End, e.Name);
        }
        if (cursor != dataLength)
            throw new InvalidDataException(
                $"{path}: the data section has {dataLength} bytes but the tensors cover {cursor} " +
                $"({dataLength - cursor} bytes not described by the header)");
        return (entries, metadata);
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException(
                $"{path}: __metadata__ is a {value.ValueKind}, expected an object of strings");
        foreach (var kv in value.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException(
                    $"{path}: __metadata__ '{kv.Name}' is a {kv.Value.ValueKind}, expected a string");
            if (!metadata.TryAdd(kv.Name, kv.Value.GetString()!))
                throw new InvalidDataException($"{path}: __metadata__ names '{kv.Name}' twice");
        }
    }

    private static HeaderEntry ReadEntry(string path, string name, JsonElement value, long dataLength)
    {
        string where = $"{path}: tensor '{TextPreview.Escape(name)}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException(
                $"{where}: expected an object with dtype, shape and data_offsets, found a {value.ValueKind}");
        if (!value.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: missing or non-string \"dtype\"");
        string dtype = dt.GetString()!;
        if (!DTypes.TryGetValue(dtype, out var info))
            throw new InvalidDataException(
                $"{where}: dtype '{TextPreview.Escape(dtype)}' is not supported (F32, I64, I32, U8)");
        if (!value.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: missing or non-array \"shape\"");
        var shape = new int[sh.GetArrayLength()];
        long count = 1;
        int axis = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw new InvalidDataException(
                    $"{where}: shape {sh.GetRawText()} has an invalid dimension {d.GetRawText()}");
            shape[axis++] = dim;
            count = dim == 0 || count <= long.MaxValue / 8 / dim ? count * dim
                : throw new InvalidDataException($"{where}: shape {sh.GetRawText()} overflows");
        }
        if (!value.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array
            || off.GetArrayLength() != 2)
            throw new InvalidDataException($"{where}: missing \"data_offsets\" or not a [begin, end] pair");
        long begin = -1, end = -1;
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out begin) || !off[1].TryGetInt64(out end) || begin < 0 || end < begin)
            throw new InvalidDataException($"{where}: data_offsets {off.GetRawText()} are not 0 <= begin <= end");
        if (end > dataLength)
            throw new InvalidDataException(
                $"{where}: data_offsets [{begin},{end}] run past the data section, which has {dataLength} bytes");
        if (end - begin != count * info.Size)
            throw new InvalidDataException(
                $"{where}: shape {sh.GetRawText()} of {dtype} needs {count * info.Size} bytes, but data_offsets " +
                $"[{begin},{end}] span {end - begin}");
        return new HeaderEntry(name, dtype, shape, begin, end);
    }

    private static string Preview(string text) =>
        text.Length == 0 ? "an empty header" : TextPreview.Quote(text, 20);
}
