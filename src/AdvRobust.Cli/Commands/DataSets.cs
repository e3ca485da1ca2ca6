using AdvRobust.Core.Data;

namespace AdvRobust.Cli.Commands;

/// <summary>Resolves --data to a test split: "fashion-mnist", "mnist", "cifar10", or a folder holding one of them.</summary>
internal static class DataSets
{
    public static LabeledImages LoadTest(string data, string? dataDir) => data switch
    {
        "fashion-mnist" => FashionMnist.Load(dataDir, train: false),
        "mnist" => Mnist.Load(dataDir, train: false),
        "cifar10" => Cifar10Reader.Load(dataDir, train: false),
        _ when Directory.Exists(data) => FromFolder(data),
        _ => throw new ArgumentException(
            $"--data must be fashion-mnist, mnist, cifar10 or an existing folder; '{data}' is none of these"),
    };

    /// <summary>The training split of the same data set (detection embeds it as its reference set).</summary>
    public static LabeledImages LoadTrain(string data, string? dataDir) => data switch
    {
        "fashion-mnist" => FashionMnist.Load(dataDir, train: true),
        "mnist" => Mnist.Load(dataDir, train: true),
        "cifar10" => Cifar10Reader.Load(dataDir, train: true),
        _ when Directory.Exists(data) => File.Exists(Path.Combine(data, "test_batch.bin"))
            ? Cifar10Reader.Load(data, train: true)
            : FashionMnist.Load(data, train: true),
        _ => throw new ArgumentException(
            $"--data must be fashion-mnist, mnist, cifar10 or an existing folder; '{data}' is none of these"),
    };

    private static LabeledImages FromFolder(string dir)
    {
        if (File.Exists(Path.Combine(dir, "test_batch.bin"))) return Cifar10Reader.Load(dir, train: false);
        return FashionMnist.Load(dir, train: false);
    }
}
