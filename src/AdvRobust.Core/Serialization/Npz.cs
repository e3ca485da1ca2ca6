using System.IO.Compression;

namespace AdvRobust.Core.Serialization;

/// <summary>
/// NumPy's .npz: a zip archive with one .npy file per array, named "&lt;key&gt;.npy" (numpy.savez writes stored
/// entries, numpy.savez_compressed deflated ones). Reads both; writes deflated entries, atomically. Errors name the
/// archive and the entry. Each entry's CRC-32 is checked (ZipArchive itself does not). Zip bombs are refused without
/// inflating them: an entry may not declare more than deflate can expand its compressed bytes to, and an array is
/// allocated only when the entry's declared size holds it (and read no further than that).
/// </summary>
public static class Npz
{
    /// <summary>Deflate's largest expansion: one 258-byte match per 2 bits at best, i.e. about 1032:1.</summary>
    internal const long MaxDeflateRatio = 1032;

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
                if (entry.Length > entry.CompressedLength * MaxDeflateRatio + 1024)
                    throw new InvalidDataException(
                        $"{where}: declares {entry.Length} bytes inflated from {entry.CompressedLength} compressed " +
                        $"bytes, more than deflate can produce (at most {MaxDeflateRatio}:1): a zip bomb or a " +
                        "corrupt archive");
                NpyArray array;
                Stream opened;
                try
                {
                    opened = entry.Open();
                }
                catch (InvalidDataException e) // a bad local header or a compression method other than stored/deflate
                {
                    throw new InvalidDataException($"{where}: cannot open the entry: {e.Message}", e);
                }
                try
                {
                    using var stream = new Crc32Stream(opened);
                    // Reads to the end (trailing bytes are an error) and allocates no more than the declared size.
                    array = Npy.Read(stream, where, entry.Length);
                    if (stream.Crc != entry.Crc32)
                        throw new InvalidDataException(
                            $"{where}: CRC-32 mismatch: the archive records 0x{entry.Crc32:X8}, " +
                            $"the data has 0x{stream.Crc:X8}");
                }
                catch (InvalidDataException e) when (!e.Message.StartsWith(where, StringComparison.Ordinal))
                {
                    // While reading, the zip layer's only error is damaged deflate data, which .NET words as "an
                    // unsupported compression method"; say what it is.
                    throw new InvalidDataException($"{where}: corrupt entry: the compressed data is damaged " +
                        "(invalid deflate stream)", e);
                }
                if (!arrays.TryAdd(key, array)) throw new InvalidDataException($"{where}: duplicate key '{key}'");
            }
            return arrays;
        }
    }

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
