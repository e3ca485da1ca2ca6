using System.Buffers.Binary;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Cli;

/// <summary>What the command-line tests generate: a small Fashion-MNIST-shaped IDX folder (random 28×28 images in
/// 10 classes, train and test splits), a random small-CNN checkpoint, and a run of the command with stderr captured.</summary>
internal static class CliFixtures
{
    /// <summary>Writes the four IDX files of a Fashion-MNIST layout into <paramref name="dir"/>.</summary>
    public static string IdxFolder(string dir, int trainImages, int testImages)
    {
        Directory.CreateDirectory(dir);
        var rng = new SeededRandom(nameof(CliFixtures));
        foreach (var (prefix, n) in new[] { ("train", trainImages), ("t10k", testImages) })
        {
            byte[] pixels = rng.Uniform(n * 28 * 28, 0, 1).Select(v => (byte)(v * 255)).ToArray();
            byte[] labels = Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray();
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-images-idx3-ubyte"), Idx(0x803, [n, 28, 28], pixels));
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte"), Idx(0x801, [n], labels));
        }
        return dir;
    }

    private static byte[] Idx(int magic, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    /// <summary>A random small CNN saved as <paramref name="path"/>, its normalization in the metadata as training
    /// writes it (or <paramref name="mean"/>/<paramref name="std"/> verbatim), and <paramref name="poison"/>
    /// (a tensor name, a flat index and a value) written over one weight.</summary>
    public static string SmallCnn(string path, (string Tensor, int Index, float Value)? poison = null,
        string mean = "0.286", string std = "0.353")
    {
        using var model = ModelZoo.Create("small-cnn", CpuBackend.Instance, 10, [1, 28, 28], [0.286f], [0.353f], 7);
        if (poison is { } p)
        {
            var tensor = model.NamedParameters().Single(n => n.Name == p.Tensor).Parameter.Value;
            float[] values = tensor.ToArray<float>();
            values[p.Index] = p.Value;
            tensor.Backend.CopyIn<float>(tensor.Storage, values);
        }
        Checkpoint.Save(path, model, new Dictionary<string, string>
        {
            [CheckpointValues.MeanKey] = mean,
            [CheckpointValues.StdKey] = std,
        });
        return path;
    }

    /// <summary>Runs `advrobust args…` and returns its exit code and what it wrote to stderr.</summary>
    public static (int Code, string Error) Run(params string[] args)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            return (AdvRobust.Cli.Program.Main(args), error.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }
}
