namespace AdvRobust.Core.Serialization;

/// <summary>
/// Writes a file so that its final name only ever holds a complete file: the bytes go to
/// <c>path.tmp-&lt;pid&gt;</c>, are flushed to disk (<c>FileStream.Flush(true)</c>, i.e. fsync), and the temporary
/// file is then renamed over <paramref name="path"/> (rename within one folder is atomic on POSIX file systems and
/// NTFS). If writing fails the temporary file is deleted and an existing file at <paramref name="path"/> is left
/// untouched; a crash can leave only a stray <c>.tmp-&lt;pid&gt;</c> file, never a half-written one under the
/// final name.
/// </summary>
public static class AtomicFile
{
    /// <summary>The temporary name used while writing <paramref name="path"/> from this process.</summary>
    public static string TempPath(string path) => $"{path}.tmp-{Environment.ProcessId}";

    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string temp = TempPath(full);
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { } // best effort: the original exception is the one worth reporting
        catch (UnauthorizedAccessException) { }
    }
}
