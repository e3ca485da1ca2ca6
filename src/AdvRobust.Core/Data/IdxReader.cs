using AdvRobust.Core.Serialization;
using System.Buffers.Binary;
using System.IO.Compression;

namespace AdvRobust.Core.Data;

/// <summary>
/// Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.). Layout: a 4-byte magic 00 00 TT RR (TT the
/// element type, RR the rank), RR big-endian int32 dimensions, then the elements in row-major order. Only unsigned
/// bytes (TT = 0x08) are accepted: 0x00000803 for N×H×W images and 0x00000801 for N labels. A file may be plain or
/// gzip-compressed; gzip is recognised by its 1f 8b magic, never by the file name. The length must be exact: a
/// truncated or over-long file is an error, and every error names the file and says expected vs found.
/// </summary>
public static class IdxReader
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    private static readonly float[] ByteToUnit = BuildByteToUnit();

    /// <summary>Reads an IDX file of unsigned bytes of rank <paramref name="expectedRank"/>.</summary>
    public static (int[] Dims, byte[] Data) Read(string path, int expectedRank)
    {
        using var stream = OpenMaybeGzip(path);
        try
        {
            // The most bytes the file can hold once decompressed, so that dimensions claiming more are an error
            // before the reader allocates them: the file itself, or what deflate can make of it.
            long length = new FileInfo(path).Length;
            long maxBytes = stream is GZipStream ? length * Npz.MaxDeflateRatio : length;
            return ReadFrom(stream, path, expectedRank, maxBytes);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // GZipStream's own errors do not know the file name, and call every data error an "unsupported
            // compression method": say which it was.
            string fault = GzipDiagnosis.Explain(path) ?? "zlib reports: " + e.Message;
            throw new InvalidDataException($"{path}: corrupt gzip data: {fault}", e);
        }
    }

    /// <summary>Reads an N×H×W images file (magic 0x00000803) as raw bytes.</summary>
    public static (int N, int H, int W, byte[] Pixels) ReadImages(string path)
    {
        var (dims, data) = Read(path, 3);
        return (dims[0], dims[1], dims[2], data);
    }

    /// <summary>Reads an N labels file (magic 0x00000801) as raw bytes.</summary>
    public static byte[] ReadLabels(string path) => Read(path, 1).Data;

    /// <summary>
    /// Reads an images file and its labels file into a one-channel data set with pixels scaled by 1/255. The two
    /// files must hold the same number of items, every label must be below <paramref name="classes"/>, and when
    /// <paramref name="expectedHeight"/>/<paramref name="expectedWidth"/> are given the images must have that size.
    /// </summary>
    public static LabeledImages Load(string imagesPath, string labelsPath, int classes, string? source = null,
        int expectedHeight = 0, int expectedWidth = 0)
    {
        var (n, h, w, raw) = ReadImages(imagesPath);
        if (n == 0) throw new InvalidDataException($"{imagesPath}: holds no images (the first dimension is 0)");
        if ((expectedHeight > 0 && h != expectedHeight) || (expectedWidth > 0 && w != expectedWidth))
            throw new InvalidDataException(
                $"{imagesPath}: images are {h}×{w}, expected {expectedHeight}×{expectedWidth}");
        byte[] labelBytes = ReadLabels(labelsPath);
        if (labelBytes.Length != n)
            throw new InvalidDataException(
                $"{labelsPath}: holds {labelBytes.Length} labels, but {imagesPath} holds {n} images " +
                $"(expected {n} labels)");
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            if (labelBytes[i] >= classes)
                throw new InvalidDataException(
                    $"{labelsPath}: label {labelBytes[i]} at index {i} is outside [0, {classes})");
            labels[i] = labelBytes[i];
        }
        var pixels = new float[raw.LongLength];
        for (long i = 0; i < raw.LongLength; i++) pixels[i] = ByteToUnit[raw[i]];
        return new LabeledImages(n, 1, h, w, pixels, labels, classes, source ?? imagesPath);
    }

    /// <summary>Opens a file for reading, decompressing on the fly when it starts with the gzip magic 1f 8b.</summary>
    internal static Stream OpenMaybeGzip(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> magic = stackalloc byte[2];
        int got = Npy.ReadFully(file, magic);
        file.Position = 0;
        if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) return new GZipStream(file, CompressionMode.Decompress);
        return file;
    }

    private static (int[] Dims, byte[] Data) ReadFrom(Stream stream, string path, int expectedRank, long maxBytes)
    {
        Span<byte> head = stackalloc byte[4];
        int got = Npy.ReadFully(stream, head);
        if (got < 4)
            throw new InvalidDataException($"{path}: truncated header: expected a 4-byte magic, found {got} bytes");
        int magic = BinaryPrimitives.ReadInt32BigEndian(head);
        int expectedMagic = 0x800 | expectedRank;
        if (head[0] != 0 || head[1] != 0)
            throw new InvalidDataException(
                $"{path}: not an IDX file: magic 0x{magic:X8}, expected 0x{expectedMagic:X8} " +
                "(first two bytes must be 0)");
        if (head[2] != 0x08)
            throw new InvalidDataException(
                $"{path}: magic 0x{magic:X8}: element type 0x{head[2]:X2} ({TypeName(head[2])}) is not supported, " +
                $"expected 0x08 (unsigned byte), i.e. magic 0x{expectedMagic:X8}");
        if (head[3] != expectedRank)
            throw new InvalidDataException(
                $"{path}: magic 0x{magic:X8}: rank {head[3]}, expected rank {expectedRank} " +
                $"(magic 0x{expectedMagic:X8})");

        var dimBytes = new byte[4 * expectedRank];
        got = Npy.ReadFully(stream, dimBytes);
        if (got < dimBytes.Length)
            throw new InvalidDataException(
                $"{path}: truncated header: expected {4 + dimBytes.Length} bytes, found {4 + got}");
        var dims = new int[expectedRank];
        long count = 1;
        for (int d = 0; d < expectedRank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.AsSpan(4 * d));
            if (dims[d] < 0) throw new InvalidDataException($"{path}: dimension {d} is {dims[d]}, expected >= 0");
            count *= dims[d];
            if (count > Array.MaxLength)
                throw new InvalidDataException(
                    $"{path}: dimensions [{string.Join(", ", dims[..(d + 1)])}] exceed the largest array " +
                    $"({Array.MaxLength} bytes)");
        }

        int headerBytes = 4 + dimBytes.Length;
        if (count > maxBytes - headerBytes) // before anything that size is read or allocated: the header may lie
            throw new InvalidDataException(
                $"{path}: truncated: dimensions [{string.Join(", ", dims)}] need {count} data bytes after the " +
                $"{headerBytes}-byte header, " + (stream is GZipStream
                    ? $"more than a {maxBytes / Npz.MaxDeflateRatio}-byte gzip file can inflate to ({maxBytes})"
                    : $"found {Math.Max(0, maxBytes - headerBytes)}"));
        var (data, found) = ReadData(stream, count);
        if (found < count)
            throw new InvalidDataException(
                $"{path}: truncated: dimensions [{string.Join(", ", dims)}] need {count} data bytes after the " +
                $"{headerBytes}-byte header, found {found}");
        long extra = CountRemaining(stream);
        if (extra > 0)
            throw new InvalidDataException(
                $"{path}: dimensions [{string.Join(", ", dims)}] need {count} data bytes after the " +
                $"{headerBytes}-byte header, found {count + extra} ({extra} trailing bytes)");
        return (dims, data);
    }

    /// <summary>Up to <paramref name="count"/> bytes. A plain file's size is known, so a header that asks for more
    /// than the file holds costs no allocation; gzip data is read in growing chunks, so memory follows what the data
    /// really holds, not what the header claims.</summary>
    private static (byte[] Data, long Got) ReadData(Stream stream, long count)
    {
        if (stream.CanSeek && count > stream.Length - stream.Position)
            return ([], stream.Length - stream.Position);
        if (stream.CanSeek || count <= 1 << 24)
        {
            var all = new byte[count];
            return (all, Npy.ReadFully(stream, all));
        }
        var data = new byte[1 << 24];
        long got = Npy.ReadFully(stream, data);
        while (got == data.Length && got < count)
        {
            Array.Resize(ref data, (int)Math.Min(count, 2L * data.Length));
            got += Npy.ReadFully(stream, data.AsSpan((int)got));
        }
        return (data, got);
    }

    private static long CountRemaining(Stream stream)
    {
        Span<byte> sink = stackalloc byte[4096];
        long total = 0;
        int n;
        while ((n = stream.Read(sink)) > 0) total += n;
        return total;
    }

    private static string TypeName(byte t) => t switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "unknown type",
    };

    private static float[] BuildByteToUnit()
    {
        var table = new float[256];
        for (int i = 0; i < 256; i++) table[i] = i / 255f;
        return table;
    }
}
