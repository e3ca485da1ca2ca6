namespace AdvRobust.Core.Data;

/// <summary>
/// Reader for the CIFAR-10 binary version (Krizhevsky 2009, cifar-10-binary.tar.gz → cifar-10-batches-bin/):
/// data_batch_1.bin … data_batch_5.bin (10,000 images each) and test_batch.bin. Each file is a sequence of
/// 3073-byte records: 1 label byte (0..9), then 3072 pixel bytes, 32×32 red, 32×32 green, 32×32 blue (CHW,
/// row-major). Pixels are scaled by 1/255. Every error names the file.
/// </summary>
public static class Cifar10Reader
{
    public const int Classes = 10, Channels = 3, Height = 32, Width = 32;
    public const int PixelBytes = Channels * Height * Width;
    public const int RecordBytes = 1 + PixelBytes;
    public const string FolderName = "cifar-10-batches-bin";

    public const string HowToGet =
        "Download the CIFAR-10 binary version (cifar-10-binary.tar.gz) from " +
        "https://www.cs.toronto.edu/~kriz/cifar.html, extract it, and pass --data DIR with " +
        "data_batch_1.bin … data_batch_5.bin and test_batch.bin, or set " +
        "ADVROBUST_DATA so that $ADVROBUST_DATA/" + FolderName + " holds them.";

    /// <summary>Reads one batch file.</summary>
    public static LabeledImages ReadBatch(string path) => ReadBatches([path], path);

    /// <summary>Reads several batch files into one data set, in the order given.</summary>
    public static LabeledImages ReadBatches(IReadOnlyList<string> paths, string source)
    {
        var files = new List<byte[]>(paths.Count);
        long records = 0;
        foreach (string path in paths)
        {
            byte[] bytes = File.ReadAllBytes(path);
            Validate(path, bytes);
            files.Add(bytes);
            records += bytes.Length / RecordBytes;
        }
        if (records * PixelBytes > Array.MaxLength)
            throw new InvalidDataException($"{source}: {records} images do not fit in one array");
        int n = (int)records;
        var pixels = new float[(long)n * PixelBytes];
        var labels = new int[n];
        int image = 0;
        foreach (byte[] bytes in files)
        {
            for (int r = 0; r < bytes.Length / RecordBytes; r++, image++)
            {
                int at = r * RecordBytes;
                labels[image] = bytes[at];
                var dst = pixels.AsSpan(image * PixelBytes, PixelBytes);
                var src = bytes.AsSpan(at + 1, PixelBytes);
                for (int i = 0; i < PixelBytes; i++) dst[i] = src[i] / 255f;
            }
        }
        return new LabeledImages(n, Channels, Height, Width, pixels, labels, Classes, source);
    }

    /// <summary>Loads the training set (the five data batches, 50,000 images) or the test batch (10,000).</summary>
    /// <param name="dir">The folder holding the .bin files; null to look in
    /// $ADVROBUST_DATA/cifar-10-batches-bin.</param>
    public static LabeledImages Load(string? dir, bool train) =>
        Load(dir, train, Environment.GetEnvironmentVariable(IdxDataSet.DataRootVariable));

    internal static LabeledImages Load(string? dir, bool train, string? dataRoot)
    {
        string? folder = dir ?? (string.IsNullOrEmpty(dataRoot) ? null : Path.Combine(dataRoot, FolderName));
        string[] names = train
            ? ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"]
            : ["test_batch.bin"];
        if (folder is null)
            throw new FileNotFoundException($"CIFAR-10: no folder given and ADVROBUST_DATA is not set. {HowToGet}");
        string[] paths = names.Select(name => Path.Combine(folder, name)).ToArray();
        string[] missing = paths.Where(p => !File.Exists(p)).ToArray();
        if (missing.Length > 0)
            throw new FileNotFoundException(
                $"CIFAR-10 ({(train ? "training" : "test")} split): {string.Join(", ", missing)} not found. {HowToGet}",
                missing[0]);
        return ReadBatches(paths, folder);
    }

    private static void Validate(string path, byte[] bytes)
    {
        if (bytes.Length == 0)
            throw new InvalidDataException($"{path}: empty file, expected {RecordBytes}-byte records");
        if (bytes.Length % RecordBytes != 0)
            throw new InvalidDataException(
                $"{path}: length {bytes.Length} bytes is not a multiple of the {RecordBytes}-byte record " +
                $"(1 label + {PixelBytes} pixels): {bytes.Length / RecordBytes} whole records and " +
                $"{bytes.Length % RecordBytes} bytes left over");
        for (int r = 0; r < bytes.Length / RecordBytes; r++)
        {
            byte label = bytes[r * RecordBytes];
            if (label >= Classes)
                throw new InvalidDataException(
                    $"{path}: record {r} (byte offset {(long)r * RecordBytes}) has label {label}, " +
                    $"expected 0..{Classes - 1}");
        }
    }
}
