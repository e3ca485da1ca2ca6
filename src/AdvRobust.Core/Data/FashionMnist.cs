namespace AdvRobust.Core.Data;

/// <summary>
/// Fashion-MNIST (Xiao et al. 2017): 60,000 training and 10,000 test images, 1×28×28, 10 classes, in IDX files.
/// Looks in the folder given, else in $ADVROBUST_DATA/fashion-mnist, else in /usr/share/datasets/fashion-mnist
/// (where Debian's dataset-fashion-mnist package puts the four .gz files).
/// </summary>
public static class FashionMnist
{
    public const string SystemFolder = "/usr/share/datasets/fashion-mnist";

    public const string HowToGet =
        "On Debian or Ubuntu install it with `sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist` " +
        "(`dotnet pwsh ./build.ps1 setup` does this as root; files go to " + SystemFolder + "), or pass " +
        "--data DIR with the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, " +
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; un-gzipped names work too), or set ADVROBUST_DATA " +
        "so that $ADVROBUST_DATA/fashion-mnist holds them.";

    /// <summary>Loads the training (60,000) or test (10,000) split, pixels scaled to [0, 1].</summary>
    /// <param name="dir">The folder holding the IDX files; null to search the default folders.</param>
    public static LabeledImages Load(string? dir, bool train) =>
        Load(dir, train, Environment.GetEnvironmentVariable(IdxDataSet.DataRootVariable), SystemFolder);

    /// <summary>Same, with the data root and system folder passed in (tests use this).</summary>
    internal static LabeledImages Load(string? dir, bool train, string? dataRoot, string? systemFolder) =>
        IdxDataSet.Load("Fashion-MNIST", dir, IdxDataSet.Defaults(dataRoot, "fashion-mnist", systemFolder), train,
            HowToGet);
}
