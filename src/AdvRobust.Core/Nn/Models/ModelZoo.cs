using AdvRobust.Core.Nn.Layers;

namespace AdvRobust.Core.Nn.Models;

/// <summary>Builds a model by architecture name, with seeded initialization (<see cref="ParameterInit"/>).</summary>
public static class ModelZoo
{
    /// <summary>The architecture names Create knows.</summary>
    public static IReadOnlyList<string> Architectures { get; } =
        ["small-cnn", "resnet18", "preact-resnet18", "wrn-28-10", "wrn-34-10"];

    /// <summary>
    /// "small-cnn" (Madry et al. MNIST CNN), "resnet18" (CIFAR ResNet-18), "preact-resnet18" (with the BN before the
    /// classifier), "wrn-28-10" and "wrn-34-10" (TRADES/RobustBench WideResNet). <paramref name="inputShape"/> is
    /// C×H×W; <paramref name="mean"/> and <paramref name="std"/> give one value per channel for the normalization
    /// layer; every initial weight is drawn from Philox with <paramref name="seed"/>.
    /// </summary>
    public static ImageClassifier Create(string arch, IBackend backend, int classes, int[] inputShape, float[] mean,
        float[] std, ulong seed) =>
        Create(arch, new ParameterInit(backend, seed), classes, inputShape, mean, std);

    /// <summary>As above with an explicit initializer, e.g. <see cref="ParameterInit.ForLoading"/> before a checkpoint
    /// load.</summary>
    public static ImageClassifier Create(string arch, ParameterInit init, int classes, int[] inputShape, float[] mean,
        float[] std) => arch switch
    {
        "small-cnn" => new SmallCnn(init, classes, inputShape, mean, std),
        "resnet18" => new ResNet18(init, classes, inputShape, mean, std),
        "preact-resnet18" => new PreActResNet18(init, classes, inputShape, mean, std),
        "wrn-28-10" => new WideResNet(init, 28, 10, classes, inputShape, mean, std),
        "wrn-34-10" => new WideResNet(init, 34, 10, classes, inputShape, mean, std),
        _ => throw new ArgumentException(
            $"unknown architecture '{arch}'; known: {string.Join(", ", Architectures)}", nameof(arch)),
    };
}
