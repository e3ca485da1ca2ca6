namespace AdvRobust.Core.Validation;

/// <summary>
/// Paths checked before a command starts its work, so that an hour of attacks does not end in a raw OS message and a
/// bad request leaves nothing behind: nothing is created here. A file wanted where a folder is (or the reverse), a
/// parent that is a file, and a location nobody can write to (probed by creating and deleting a temporary file in the
/// nearest existing folder) are <see cref="ArgumentException"/>s (exit 2) naming the option, the path and the problem.
/// A missing input is a <see cref="FileNotFoundException"/> (exit 4).
/// </summary>
public static class OutputPaths
{
    /// <summary>An existing file to read (a checkpoint, a proxy set).</summary>
    public static string InputFile(string option, string path, string what)
    {
        if (Directory.Exists(path))
            throw new ArgumentException($"{option} '{path}' is a folder, not a {what} file");
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"{what} '{path}' does not exist ({option})", path);
        return path;
    }

    /// <summary>A file to write (it may exist and will be replaced or appended to, its folder may not exist yet);
    /// <paramref name="example"/> is the file name suggested when a folder is given instead.</summary>
    public static string File(string option, string path, string example = "result.json")
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{option} needs a file name, got '{path}'");
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new ArgumentException($"{option} '{path}' is a folder; give a file name (e.g. {Path.Combine(path, example)})");
        if (System.IO.File.Exists(full))
        {
            if ((System.IO.File.GetAttributes(full) & FileAttributes.ReadOnly) != 0)
                throw new ArgumentException($"{option} '{path}' is read-only");
        }
        Writable(option, path, Path.GetDirectoryName(full)!);
        return path;
    }

    /// <summary>A folder to write into (it may exist, or be created later along with its parents).</summary>
    public static string Folder(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{option} needs a folder name, got '{path}'");
        string full = Path.GetFullPath(path);
        if (System.IO.File.Exists(full))
            throw new ArgumentException($"{option} '{path}' is a file; give a folder");
        Writable(option, path, full);
        return path;
    }

    /// <summary>The nearest existing folder at or above <paramref name="folder"/> must be a folder we can write in.</summary>
    private static void Writable(string option, string path, string folder)
    {
        string existing = folder;
        while (!Directory.Exists(existing))
        {
            if (System.IO.File.Exists(existing))
                throw new ArgumentException($"{option} '{path}': '{existing}' is a file, so no folder can be made there");
            existing = Path.GetDirectoryName(existing)
                ?? throw new ArgumentException($"{option} '{path}': no part of the path exists");
        }
        string probe = Path.Combine(existing, $".advrobust-write-test-{Environment.ProcessId}");
        try
        {
            // Create, not CreateNew: a probe left by a killed process of the same id must not block this one.
            using var stream = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1,
                FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string where = existing == folder ? $"'{existing}'" : $"'{existing}' (where '{folder}' would be made)";
            throw new ArgumentException($"{option} '{path}': cannot write in {where}: {Reason(e)}");
        }
    }

    private static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        _ when e.Message.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase) => "read-only file system",
        _ => $"the file system refused a test file there ({e.Message.TrimEnd('.')})",
    };
}
