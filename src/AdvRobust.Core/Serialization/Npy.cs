using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace AdvRobust.Core.Serialization;

/// <summary>
/// NumPy's .npy format (numpy.lib.format): the magic "\x93NUMPY", a major and minor version byte, the header length
/// (uint16 little-endian for version 1.0, uint32 for 2.0 and 3.0), an ASCII (3.0: UTF-8) Python dict literal
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c> padded with spaces and ended by '\n' so that
/// the data starts at a multiple of 64 bytes, then the raw little-endian elements in C order.
/// Reads '&lt;f4', '|u1', '&lt;i4', '&lt;i8', '&lt;f8'; writes the same (version 1.0, or 2.0 for a header over 64 KiB).
/// Fortran-ordered arrays, big-endian and structured dtypes are rejected. Every error names the file (or npz entry).
/// </summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    private const int Align = 64;
    private const int ChunkElements = 1 << 24;

    public static NpyArray Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, path);
    }

    /// <summary>Reads one array from <paramref name="stream"/>; <paramref name="name"/> is used in error
    /// messages. <paramref name="declaredBytes"/> is the stream's length when it cannot seek (an .npz entry's
    /// declared size): an array that needs more data than the stream has is refused before it is allocated.</summary>
    public static NpyArray Read(Stream stream, string name, long? declaredBytes = null)
    {
        RequireLittleEndianHost();
        // The most bytes this array can have (the npz entry's declared size, or what a seekable stream holds), so
        // that a header or shape claiming more is refused before anything that large is allocated.
        long? limit = declaredBytes ?? (stream.CanSeek ? stream.Length - stream.Position : null);
        Span<byte> prefix = stackalloc byte[8];
        int got = ReadFully(stream, prefix);
        if (got < 8 || !prefix[..6].SequenceEqual(Magic))
            throw new InvalidDataException(
                $"{name}: not a .npy file: expected the magic \\x93NUMPY and a version, found {Hex(prefix[..got])}");
        byte major = prefix[6], minor = prefix[7];
        if (major is < 1 or > 3 || minor != 0)
            throw new InvalidDataException(
                $"{name}: .npy format version {major}.{minor} is not supported (expected 1.0, 2.0 or 3.0)");

        int lengthBytes = major == 1 ? 2 : 4;
        Span<byte> lengthField = stackalloc byte[lengthBytes];
        got = ReadFully(stream, lengthField);
        if (got < lengthBytes)
            throw new InvalidDataException(
                $"{name}: truncated header: expected a {lengthBytes}-byte header length, found {got} bytes");
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(lengthField)
            : BinaryPrimitives.ReadUInt32LittleEndian(lengthField);
        if (headerLength > 1 << 24)
            throw new InvalidDataException($"{name}: header length {headerLength} bytes is implausibly large");
        if (limit is long most && 8 + lengthBytes + headerLength > most)
            throw new InvalidDataException($"{name}: truncated header: expected {headerLength} header bytes, " +
                $"found {Math.Max(0, most - 8 - lengthBytes)}");
        var headerBytes = new byte[headerLength];
        got = ReadFully(stream, headerBytes);
        if (got < headerLength)
            throw new InvalidDataException(
                $"{name}: truncated header: expected {headerLength} header bytes, found {got}");
        string header = major == 3 ? Encoding.UTF8.GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);

        var (descr, fortranOrder, shape) = NpyHeader.Parse(header, name);
        string dims = string.Join(", ", shape);
        if (fortranOrder)
            throw new InvalidDataException(
                $"{name}: fortran_order is True: column-major arrays are not supported; save a C-ordered array " +
                "(numpy.ascontiguousarray)");
        string dtype = descr switch { "<u1" or ">u1" or "u1" => NpyArray.UInt8, _ => descr };
        if (dtype.Length > 0 && dtype[0] == '>')
            throw new InvalidDataException(
                $"{name}: big-endian dtype '{TextPreview.Escape(descr)}' is not supported (only little-endian)");
        if (dtype is not (NpyArray.Float32 or NpyArray.UInt8 or NpyArray.Int32 or NpyArray.Int64 or NpyArray.Float64))
            throw new InvalidDataException(
                $"{name}: dtype '{TextPreview.Escape(descr)}' is not supported; expected one of {NpyArray.Supported}");

        long headerEnd = 8 + lengthBytes + headerLength;
        long? available = declaredBytes is long declared ? declared - headerEnd
            : stream.CanSeek ? stream.Length - stream.Position : null;
        long count = 1;
        foreach (int d in shape)
        {
            count *= d;
            if (count > Array.MaxLength)
                throw new InvalidDataException($"{name}: shape ({dims}) is too large for one array");
        }
        long expectedBytes = count * NpyArray.ElementSize(dtype);
        if (available is long left && expectedBytes > left) // checked before allocating: the header may lie
            throw new InvalidDataException(
                $"{name}: truncated data: shape ({dims}) of '{dtype}' needs {expectedBytes} bytes, found " +
                $"{Math.Max(left, 0)}{(declaredBytes is null ? "" : " (the entry's declared size after the header)")}");
        var array = NpyArray.Allocate(dtype, shape, count);
        long read = ReadData(stream, array.Data);
        if (read < expectedBytes)
            throw new InvalidDataException(
                $"{name}: truncated data: shape ({dims}) of '{dtype}' needs {expectedBytes} bytes, found {read}");
        if (stream.ReadByte() >= 0)
            throw new InvalidDataException(
                $"{name}: shape ({dims}) of '{dtype}' needs {expectedBytes} data bytes, found more (trailing data)");
        return array;
    }

    /// <summary>Writes <paramref name="array"/> to <paramref name="path"/> atomically (see
    /// <see cref="AtomicFile"/>).</summary>
    public static void Write(string path, NpyArray array) => AtomicFile.Write(path, s => Write(s, array));

    public static void Write(Stream stream, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        RequireLittleEndianHost();
        string dict = NpyHeader.Format(array.DType, array.Shape);
        // Version 1.0 holds a header of up to 65535 bytes; above that numpy switches to 2.0's 4-byte length.
        int major = 1, prefix = 10;
        int total = (prefix + dict.Length + 1 + Align - 1) / Align * Align;
        if (total - prefix > ushort.MaxValue)
        {
            (major, prefix) = (2, 12);
            total = (prefix + dict.Length + 1 + Align - 1) / Align * Align;
        }
        string header = dict + new string(' ', total - prefix - dict.Length - 1) + "\n";
        stream.Write(Magic);
        stream.Write([(byte)major, 0]);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)header.Length);
        stream.Write(length[..(major == 1 ? 2 : 4)]);
        stream.Write(Encoding.Latin1.GetBytes(header));
        WriteData(stream, array.Data);
    }

    /// <summary>Reads until the buffer is full or the stream ends; returns the bytes read (short = truncated).</summary>
    internal static int ReadFully(Stream stream, Span<byte> buffer) =>
        stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

    /// <summary>Fills the array from the stream in chunks (a byte span of one large array could pass 2 GiB).</summary>
    private static long ReadData(Stream stream, Array data) => data switch
    {
        float[] a => ReadChunks<float>(stream, a),
        byte[] a => ReadChunks<byte>(stream, a),
        int[] a => ReadChunks<int>(stream, a),
        long[] a => ReadChunks<long>(stream, a),
        double[] a => ReadChunks<double>(stream, a),
        _ => throw new NotSupportedException(data.GetType().Name),
    };

    private static long ReadChunks<T>(Stream stream, T[] a) where T : unmanaged
    {
        long total = 0;
        for (int start = 0; start < a.Length; start += ChunkElements)
        {
            var bytes = MemoryMarshal.AsBytes(a.AsSpan(start, Math.Min(ChunkElements, a.Length - start)));
            int got = ReadFully(stream, bytes);
            total += got;
            if (got < bytes.Length) break;
        }
        return total;
    }

    private static void WriteData(Stream stream, Array data)
    {
        switch (data)
        {
            case float[] a: WriteChunks<float>(stream, a); break;
            case byte[] a: WriteChunks<byte>(stream, a); break;
            case int[] a: WriteChunks<int>(stream, a); break;
            case long[] a: WriteChunks<long>(stream, a); break;
            case double[] a: WriteChunks<double>(stream, a); break;
            default: throw new NotSupportedException(data.GetType().Name);
        }
    }

    private static void WriteChunks<T>(Stream stream, T[] a) where T : unmanaged
    {
        for (int start = 0; start < a.Length; start += ChunkElements)
            stream.Write(MemoryMarshal.AsBytes(a.AsSpan(start, Math.Min(ChunkElements, a.Length - start))));
    }

    private static string Hex(ReadOnlySpan<byte> bytes) =>
        bytes.Length == 0 ? "an empty file" : Convert.ToHexString(bytes) + $" ({bytes.Length} bytes)";

    private static void RequireLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException(".npy I/O assumes a little-endian host");
    }
}
