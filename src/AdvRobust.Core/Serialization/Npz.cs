using System.IO.Compression;

namespace AdvRobust.Core.Serialization;

/// <summary>
/// NumPy's .npz: a zip archive with one .npy file per array, named "&lt;key&gt;.npy" (numpy.savez writes stored
/// entries, numpy.savez_compressed deflated ones). Reads both; writes deflated entries, atomically. Errors name the
/// archive and the entry. Each entry's CRC-32 is checked (ZipArchive itself does not).
/// </summary>
public static class Npz
{
    /// <summary>The arrays of the archive by key (entry name without ".npy"), in archive order.</summary>
    public static IReadOnlyDictionary<string, NpyArray> Read(string path)
    {
        ZipArchive zip;
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
        {
            file.Dispose();
            throw new InvalidDataException($"{path}: not a valid .npz (zip) archive: {e.Message}", e);
        }
        using (zip)
        {
            var arrays = new OrderedDictionary<string, NpyArray>();
            foreach (var entry in zip.Entries)
            {
                string where = $"{path} (entry {entry.FullName})";
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                    throw new InvalidDataException($"{where}: not a .npy entry (an .npz holds only <key>.npy files)");
                string key = entry.FullName[..^4];
                NpyArray array;
                try
                {
                    using var stream = new Crc32Stream(entry.Open());
                    // reads to the end: trailing bytes are an error
                    array = Npy.Read(stream, where, MaxEntryBytes(entry, file.Length));
                    if (stream.Crc != entry.Crc32)
                        throw new InvalidDataException(
                            $"{where}: CRC-32 mismatch: the archive records 0x{entry.Crc32:X8}, " +
                            $"the data has 0x{stream.Crc:X8}");
                }
                catch (InvalidDataException e) when (!e.Message.StartsWith(where, StringComparison.Ordinal))
                {
                    // The zip layer's own errors (bad deflate data, bad local header) do not know the entry.
                    throw new InvalidDataException($"{where}: corrupt entry: {e.Message}", e);
                }
                if (!arrays.TryAdd(key, array)) throw new InvalidDataException($"{where}: duplicate key '{key}'");
            }
            return arrays;
        }
    }

    /// <summary>The most bytes a deflate stream inflates to per compressed byte (RFC 1951: 258 bytes from a
    /// 2-bit code, about 1032:1 in the limit).</summary>
    internal const long MaxDeflateRatio = 1032;

    /// <summary>An upper bound on an entry's uncompressed size that a lying directory cannot inflate: the size it
    /// records, but no more than deflate can make from its compressed bytes, which lie within the archive.</summary>
    private static long MaxEntryBytes(ZipArchiveEntry entry, long archiveLength) =>
        Math.Min(entry.Length, Math.Min(entry.CompressedLength, archiveLength) * MaxDeflateRatio + 64);

    /// <summary>Writes the arrays as deflated "&lt;key&gt;.npy" entries, in the order given.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, NpyArray>> arrays)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        var list = arrays.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, array) in list)
        {
            if (string.IsNullOrEmpty(key)) throw new ArgumentException($"{path}: an array has an empty key");
            ArgumentNullException.ThrowIfNull(array, key);
            if (!seen.Add(key)) throw new ArgumentException($"{path}: duplicate key '{key}'");
        }
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (key, array) in list)
            {
                var entry = zip.CreateEntry(key + ".npy", CompressionLevel.Optimal);
                using var entryStream = entry.Open();
                Npy.Write(entryStream, array);
            }
        });
    }
}
