using System.IO.Compression;

namespace AdvRobust.Tests.Serialization;

/// <summary>A temporary folder per test, deleted afterwards, and helpers for the file-format tests.</summary>
public sealed class TestFiles : IDisposable
{
    public TestFiles()
    {
        Folder = Path.Combine(Path.GetTempPath(), "advrobust-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>Writes <paramref name="bytes"/> to a file in the folder and returns its path.</summary>
    public string Write(string name, byte[] bytes)
    {
        string path = PathOf(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
    }

    public static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(bytes);
        return output.ToArray();
    }

    public static byte[] Deflate(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var d = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true)) d.Write(bytes);
        return output.ToArray();
    }

    /// <summary>Asserts that <paramref name="action"/> throws exactly <typeparamref name="T"/> and that its message
    /// contains every fragment (the file name and what was wrong).</summary>
    public static T Throws<T>(Action action, params string[] fragments) where T : Exception
    {
        var e = Assert.Throws<T>(() => action())!;
        foreach (string f in fragments)
            Assert.That(e.Message, Does.Contain(f), $"message should mention '{f}'");
        return e;
    }
}
