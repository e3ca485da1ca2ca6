using System.Globalization;

namespace AdvRobust.Fuzz;

/// <summary>Files the file-based readers are given: one folder per process and thread under the temp folder (the
/// fuzz script points TMPDIR at /dev/shm), each file rewritten for every input and the folder deleted at exit.
/// </summary>
internal static class Scratch
{
    private static readonly string Root = Directory.CreateTempSubdirectory("advrobust-fuzz-").FullName;

    [ThreadStatic] private static string? _dir;

    static Scratch() => AppDomain.CurrentDomain.ProcessExit += (_, _) => Delete();

    /// <summary>This thread's folder.</summary>
    public static string Dir
    {
        get
        {
            if (_dir is null)
            {
                _dir = Path.Combine(Root, Environment.CurrentManagedThreadId.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(_dir);
            }
            return _dir;
        }
    }

    /// <summary>Writes <paramref name="data"/> to <paramref name="name"/> in this thread's folder.</summary>
    public static string Write(string name, ReadOnlySpan<byte> data)
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    private static void Delete()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
