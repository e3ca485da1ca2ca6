namespace AdvRobust.Core.Serialization;

/// <summary>
/// Writes a file so that its final name only ever holds a complete file: the bytes go to
/// <c>path.tmp-&lt;pid&gt;</c>, are flushed to disk (<c>FileStream.Flush(true)</c>, i.e. fsync), and the temporary
/// file is then renamed over <paramref name="path"/> (rename within one folder is atomic on POSIX file systems and
/// NTFS). If writing fails the temporary file is deleted and an existing file at <paramref name="path"/> is left
/// untouched; a crash can leave only a stray <c>.tmp-&lt;pid&gt;</c> file, never a half-written one under the
/// final name. <see cref="RemoveStale"/> deletes such strays once their process is gone.
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

    /// <summary>
    /// Deletes the <c>&lt;name&gt;.tmp-&lt;pid&gt;</c> files in <paramref name="folder"/> (not its subfolders) left by
    /// writes that a kill interrupted: those whose pid is neither this process nor a live one. A file whose pid is
    /// alive may be a write in progress and is kept (so is one whose pid was reused by an unrelated process).
    /// Returns the full paths deleted and their total size in bytes.
    /// </summary>
    public static (IReadOnlyList<string> Paths, long Bytes) RemoveStale(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var removed = new List<string>();
        long bytes = 0;
        if (!Directory.Exists(folder)) return (removed, 0);
        foreach (string path in Directory.EnumerateFiles(folder, "*.tmp-*"))
        {
            string name = Path.GetFileName(path);
            int dash = name.LastIndexOf(".tmp-", StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(name.AsSpan(dash + 5), System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out int pid)) continue;
            if (pid == Environment.ProcessId || IsAlive(pid)) continue;
            long size = new FileInfo(path).Length;
            File.Delete(path);
            removed.Add(path);
            bytes += size;
        }
        return (removed, bytes);
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }

    private static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { } // best effort: the original exception is the one worth reporting
        catch (UnauthorizedAccessException) { }
    }
}
