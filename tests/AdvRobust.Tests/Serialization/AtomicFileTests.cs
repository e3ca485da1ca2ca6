using AdvRobust.Core.Serialization;

namespace AdvRobust.Tests.Serialization;

public class AtomicFileTests
{
    [Test]
    public void Write_WriterFailsHalfway_KeepsOldFileAndRemovesTemp()
    {
        using var files = new TestFiles();
        string path = files.Write("ckpt.bin", [1, 2, 3]);
        bool tempSeenDuringWrite = false;

        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[1000]);
            stream.Flush();
            tempSeenDuringWrite = File.Exists(AtomicFile.TempPath(path));
            throw new IOException("disk full (simulated)");
        }))!;

        Assert.That(e.Message, Is.EqualTo("disk full (simulated)"));
        Assert.That(tempSeenDuringWrite, "bytes go to the temporary file first");
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }), "the old checkpoint is untouched");
        Assert.That(Directory.GetFiles(files.Folder), Is.EqualTo(new[] { path }), "no temporary file is left");
    }

    [Test]
    public void Write_Succeeds_ReplacesContentAndLeavesOnlyTheFile()
    {
        using var files = new TestFiles();
        string path = files.Write("ckpt.bin", [1, 2, 3]);

        AtomicFile.Write(path, stream => stream.Write([9, 8]));

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 9, 8 }));
        Assert.That(Directory.GetFiles(files.Folder), Is.EqualTo(new[] { path }));
        Assert.That(AtomicFile.TempPath(path), Does.EndWith($".tmp-{Environment.ProcessId}"));
    }
}
