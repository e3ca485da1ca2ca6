namespace AdvRobust.Core.Data;

/// <summary>
/// Finds and loads an MNIST-style data set: a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each plain or with a .gz suffix (gzip is detected by content).
/// An explicit folder is the only place looked at; without one the default folders are tried in order.
/// </summary>
internal static class IdxDataSet
{
    /// <summary>The environment variable naming the root folder of all data sets.</summary>
    public const string DataRootVariable = "ADVROBUST_DATA";

    public static LabeledImages Load(string displayName, string? dir, IReadOnlyList<string> defaults, bool train,
        string howToGet)
    {
        string split = train ? "train" : "t10k";
        string imagesStem = $"{split}-images-idx3-ubyte", labelsStem = $"{split}-labels-idx1-ubyte";
        IReadOnlyList<string> candidates = dir is not null ? [dir] : defaults;
        foreach (string folder in candidates)
        {
            string? images = Find(folder, imagesStem), labels = Find(folder, labelsStem);
            if (images is not null && labels is not null)
                return IdxReader.Load(images, labels, classes: 10, source: folder, expectedHeight: 28,
                    expectedWidth: 28);
            if (images is not null || labels is not null)
            {
                string missing = images is null ? imagesStem : labelsStem;
                throw new FileNotFoundException(
                    $"{displayName}: {folder} has {(images ?? labels)} but not {missing}[.gz]. {howToGet}",
                    Path.Combine(folder, missing));
            }
        }
        string where = candidates.Count == 0 ? "(no folder to look in)" : string.Join(", ", candidates);
        throw new FileNotFoundException(
            $"{displayName} ({(train ? "training" : "test")} split) not found: looked for {imagesStem}[.gz] and " +
            $"{labelsStem}[.gz] in {where}. {howToGet}",
            candidates.Count == 0 ? imagesStem : Path.Combine(candidates[0], imagesStem));
    }

    /// <summary>The default folders: $ADVROBUST_DATA/<paramref name="subfolder"/> (when the variable is set), then
    /// <paramref name="systemFolder"/> (when given).</summary>
    public static IReadOnlyList<string> Defaults(string? dataRoot, string subfolder, string? systemFolder)
    {
        var list = new List<string>();
        if (!string.IsNullOrEmpty(dataRoot)) list.Add(Path.Combine(dataRoot, subfolder));
        if (systemFolder is not null) list.Add(systemFolder);
        return list;
    }

    private static string? Find(string folder, string stem)
    {
        foreach (string name in (ReadOnlySpan<string>)[stem + ".gz", stem])
        {
            string path = Path.Combine(folder, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
