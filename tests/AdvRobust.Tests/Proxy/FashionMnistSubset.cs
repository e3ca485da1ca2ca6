using AdvRobust.Core.Data;

namespace AdvRobust.Tests.Proxy;

/// <summary>The Fashion-MNIST training split, loaded once for the proxy tests; a test that needs it is ignored with
/// the reason when it is not installed.</summary>
internal static class FashionMnistSubset
{
    private static readonly Lazy<LabeledImages?> Train = new(() =>
        File.Exists(Path.Combine(FashionMnist.SystemFolder, "train-images-idx3-ubyte.gz"))
            ? FashionMnist.Load(null, train: true)
            : null);

    /// <summary>The first <paramref name="n"/> training images (the split is already in random class order).</summary>
    public static LabeledImages TrainOrIgnore(int n)
    {
        if (Train.Value is null)
            Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.SystemFolder}: " +
                          "apt-get install dataset-fashion-mnist");
        return Train.Value!.Slice(0, n);
    }
}
