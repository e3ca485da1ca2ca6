using System.Buffers.Binary;
using System.IO.Compression;

namespace AdvRobust.Core.Serialization;

/// <summary>
/// Why a gzip file (RFC 1952) failed to decompress. .NET's GZipStream reports every zlib data error, a damaged
/// header, damaged deflate data and a CRC-32 or length mismatch in the trailer alike, as "unsupported compression
/// method"; this reads the file again, on the error path only, to say which it was. The trailer is taken as the
/// file's last 8 bytes (one member, as gzip writes).
/// </summary>
internal static class GzipDiagnosis
{
    private const int FlagHeaderCrc = 2, FlagExtra = 4, FlagName = 8, FlagComment = 16, FlagReserved = 0xE0;

    /// <summary>What is wrong with the gzip file at <paramref name="path"/>, or null when this cannot tell.</summary>
    public static string? Explain(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x1f || bytes[1] != 0x8b) return null;
        if (bytes[2] != 8) return $"the header's compression method {bytes[2]} is not deflate (8)";
        if ((bytes[3] & FlagReserved) != 0) return $"the header has reserved flag bits set (flags 0x{bytes[3]:X2})";
        int start = DataStart(bytes);
        if (start < 0 || start > bytes.Length - 8) return "truncated header";

        long length = 0;
        uint crc;
        try
        {
            using var inflate = new DeflateStream(new MemoryStream(bytes, start, bytes.Length - start),
                CompressionMode.Decompress);
            using var check = new Crc32Stream(inflate);
            var buffer = new byte[1 << 16];
            int n;
            while ((n = check.Read(buffer)) > 0) length += n;
            crc = check.Crc;
        }
        catch (InvalidDataException)
        {
            return "damaged deflate data (the compressed bytes are corrupt)";
        }
        uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 8));
        uint storedLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4));
        if (storedCrc != crc)
            return $"CRC-32 mismatch: the trailer records 0x{storedCrc:X8}, the data inflates to 0x{crc:X8}";
        if (storedLength != (uint)length)
            return $"length mismatch: the trailer records {storedLength} bytes, the data inflates to {length}";
        return null;
    }

    /// <summary>Where the deflate data starts after the header's optional fields; -1 past the end.</summary>
    private static int DataStart(byte[] bytes)
    {
        int flags = bytes[3], at = 10;
        if ((flags & FlagExtra) != 0)
        {
            if (at + 2 > bytes.Length) return -1;
            at += 2 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at));
        }
        if ((flags & FlagName) != 0) at = SkipZeroTerminated(bytes, at);
        if (at >= 0 && (flags & FlagComment) != 0) at = SkipZeroTerminated(bytes, at);
        if (at >= 0 && (flags & FlagHeaderCrc) != 0) at += 2;
        return at <= bytes.Length ? at : -1;
    }

    private static int SkipZeroTerminated(byte[] bytes, int at)
    {
        if (at > bytes.Length) return -1;
        int zero = Array.IndexOf(bytes, (byte)0, at);
        return zero < 0 ? -1 : zero + 1;
    }
}
