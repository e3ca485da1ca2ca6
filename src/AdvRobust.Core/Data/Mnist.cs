namespace AdvRobust.Core.Data;

/// <summary>
/// MNIST (LeCun et al. 1998): 60,000 training and 10,000 test digits, 1×28×28, 10 classes, in IDX files.
/// Looks in the folder given, else in $ADVROBUST_DATA/mnist. There is no system default folder.
/// </summary>
public static class Mnist
{
    public const string HowToGet =
        "Pass --data DIR with the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, " +
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; un-gzipped names work too), or set ADVROBUST_DATA " +
        "so that $ADVROBUST_DATA/mnist holds them.";

    /// <summary>Loads the training (60,000) or test (10,000) split, pixels scaled to [0, 1].</summary>
    /// <param name="dir">The folder holding the IDX files; null to look in $ADVROBUST_DATA/mnist.</param>
    public static LabeledImages Load(string? dir, bool train) =>
        Load(dir, train, Environment.GetEnvironmentVariable(IdxDataSet.DataRootVariable));

    /// <summary>Same, with the data root passed in (tests use this).</summary>
    internal static LabeledImages Load(string? dir, bool train, string? dataRoot) =>
        IdxDataSet.Load("MNIST", dir, IdxDataSet.Defaults(dataRoot, "mnist", systemFolder: null), train, HowToGet);
}
