using System.Text;

namespace AdvRobust.Tests.Serialization;

/// <summary>
/// Hand-built zip archives (PKWARE APPNOTE 4.3: local headers, central directory, end record), so the .npz reader
/// is tested on bytes it did not write. <c>zip64Local</c> mimics Python's zipfile with force_zip64=True, which
/// numpy.savez uses: the local header carries sizes 0xFFFFFFFF and a zip64 extra field with the real ones.
/// </summary>
public static class ZipBytes
{
    public const ushort Stored = 0, Deflated = 8;

    /// <param name="declaredSize">when given, the uncompressed size every header records instead of the real one
    /// (a lying archive: a zip bomb's huge claim, or less than the data inflates to).</param>
    public static byte[] Archive(IEnumerable<(string Name, byte[] Content)> entries, ushort method,
        bool zip64Local = false, uint? declaredSize = null)
    {
        var output = new List<byte>();
        var central = new List<byte>();
        int count = 0;
        foreach (var (name, content) in entries)
        {
            byte[] data = method == Deflated ? TestFiles.Deflate(content) : content;
            byte[] nameBytes = Encoding.UTF8.GetBytes(name);
            uint crc = Crc32(content);
            int offset = output.Count;
            byte[] extra = zip64Local
                ? [.. U16(1), .. U16(16), .. U64(declaredSize ?? (ulong)content.Length), .. U64((ulong)data.Length)]
                : [];
            uint localSize = zip64Local ? 0xFFFFFFFF : (uint)data.Length;
            uint raw = declaredSize ?? (uint)content.Length;
            uint localRaw = zip64Local ? 0xFFFFFFFF : raw;
            ushort version = zip64Local ? (ushort)45 : (ushort)20;
            // local file header: signature, version, flags, method, time, date, crc, sizes, name and extra lengths
            output.AddRange([.. U32(0x04034b50), .. U16(version), .. U16(0), .. U16(method), .. U16(0), .. U16(0x21),
                .. U32(crc), .. U32(localSize), .. U32(localRaw), .. U16((ushort)nameBytes.Length),
                .. U16((ushort)extra.Length), .. nameBytes, .. extra, .. data]);
            // central directory header: as above plus comment length, disk, attributes and the local header offset
            central.AddRange([.. U32(0x02014b50), .. U16(20), .. U16(20), .. U16(0), .. U16(method), .. U16(0),
                .. U16(0x21), .. U32(crc), .. U32((uint)data.Length), .. U32(raw),
                .. U16((ushort)nameBytes.Length), .. U16(0), .. U16(0), .. U16(0), .. U16(0), .. U32(0),
                .. U32((uint)offset), .. nameBytes]);
            count++;
        }
        int centralOffset = output.Count;
        output.AddRange(central);
        output.AddRange([.. U32(0x06054b50), .. U16(0), .. U16(0), .. U16((ushort)count), .. U16((ushort)count),
            .. U32((uint)central.Count), .. U32((uint)centralOffset), .. U16(0)]);
        return [.. output];
    }

    public static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    private static byte[] U16(ushort v) => BitConverter.GetBytes(v);
    private static byte[] U32(uint v) => BitConverter.GetBytes(v);
    private static byte[] U64(ulong v) => BitConverter.GetBytes(v);
}
