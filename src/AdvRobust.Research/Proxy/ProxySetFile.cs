using System.Text;
using AdvRobust.Core.Serialization;

namespace AdvRobust.Research.Proxy;

/// <summary>
/// The on-disk format of a synthetic image set: an .npz (numpy.savez or savez_compressed) with
/// <list type="bullet">
/// <item><c>images</c> (required): uint8, shape N×H×W (one channel) or N×C×H×W, N ≥ 1; pixel value = byte/255.</item>
/// <item><c>labels</c> (optional): int64 or int32, shape (N,), class indices ≥ 0.</item>
/// <item><c>source</c> (optional): uint8, shape (L,), UTF-8 text saying how the set was made (our generators write a
/// JSON object: kind, parameters, seed, real data). In Python: <c>np.frombuffer(text.encode(), np.uint8)</c> to write,
/// <c>bytes(f["source"]).decode()</c> to read.</item>
/// </list>
/// Other arrays are ignored, so other tools may store their own (e.g. generator logits) next to these. Uint8 images
/// keep a set of millions of images small and match how real data are stored. The reader names the file, the array
/// and what is wrong; the writer always writes N×C×H×W images, int64 labels (numpy's default integer) and is atomic.
/// </summary>
public static class ProxySetFile
{
    public const string ImagesKey = "images", LabelsKey = "labels", SourceKey = "source";

    private static readonly UTF8Encoding StrictUtf8 =
        new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static ProxySet Read(string path)
    {
        var arrays = Npz.Read(path);
        if (!arrays.TryGetValue(ImagesKey, out var images))
            throw new InvalidDataException(
                $"{path}: no '{ImagesKey}' array; a proxy set needs uint8 images N×H×W or N×C×H×W " +
                $"(arrays found: {(arrays.Count == 0 ? "none" : string.Join(", ", arrays.Keys))})");
        var (n, c, h, w) = ImageShape(path, images);
        int[]? labels = arrays.TryGetValue(LabelsKey, out var l) ? Labels(path, l, n) : null;
        string? source = arrays.TryGetValue(SourceKey, out var s) ? Source(path, s) : null;
        return new ProxySet(n, c, h, w, images.AsBytes(), labels, source, path);
    }

    public static void Write(string path, ProxySet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        var arrays = new List<KeyValuePair<string, NpyArray>>
        {
            new(ImagesKey, NpyArray.Create([set.N, set.C, set.H, set.W], set.Images)),
        };
        if (set.Labels is { } labels)
            arrays.Add(new(LabelsKey, NpyArray.Create([set.N], labels.Select(v => (long)v).ToArray())));
        if (set.Source is { } source)
        {
            byte[] text = StrictUtf8.GetBytes(source);
            arrays.Add(new(SourceKey, NpyArray.Create([text.Length], text)));
        }
        Npz.Write(path, arrays);
    }

    private static (int N, int C, int H, int W) ImageShape(string path, NpyArray images)
    {
        string where = $"{path}: array '{ImagesKey}'";
        if (images.DType != NpyArray.UInt8)
            throw new InvalidDataException(
                $"{where} has dtype '{images.DType}', expected uint8 ('|u1'); scale float images in [0, 1] by 255, " +
                "round and store them with .astype(np.uint8)");
        int[] s = images.Shape;
        var shape = s.Length switch
        {
            3 => (s[0], 1, s[1], s[2]),
            4 => (s[0], s[1], s[2], s[3]),
            _ => throw new InvalidDataException(
                $"{where} has shape ({string.Join(", ", s)}), expected N×H×W or N×C×H×W"),
        };
        if (shape.Item1 == 0) throw new InvalidDataException($"{where} holds no images (N = 0)");
        if (shape.Item2 == 0 || shape.Item3 == 0 || shape.Item4 == 0)
            throw new InvalidDataException($"{where} has shape ({string.Join(", ", s)}): an image dimension is 0");
        return shape;
    }

    private static int[] Labels(string path, NpyArray array, int n)
    {
        string where = $"{path}: array '{LabelsKey}'";
        if (array.Shape.Length != 1 || array.Shape[0] != n)
            throw new InvalidDataException(
                $"{where} has shape ({string.Join(", ", array.Shape)}), expected ({n},): one label per image");
        long[] values = array.DType switch
        {
            NpyArray.Int64 => array.AsInt64(),
            NpyArray.Int32 => array.AsInt32().Select(v => (long)v).ToArray(),
            _ => throw new InvalidDataException(
                $"{where} has dtype '{array.DType}', expected int64 ('<i8') or int32 ('<i4')"),
        };
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            if (values[i] is < 0 or > int.MaxValue)
                throw new InvalidDataException($"{where}: label {values[i]} at index {i} is not a class index (>= 0)");
            labels[i] = (int)values[i];
        }
        return labels;
    }

    private static string Source(string path, NpyArray array)
    {
        string where = $"{path}: array '{SourceKey}'";
        if (array.DType != NpyArray.UInt8 || array.Shape.Length != 1)
            throw new InvalidDataException(
                $"{where} is '{array.DType}' of shape ({string.Join(", ", array.Shape)}), expected 1-D uint8 " +
                "(UTF-8 text: np.frombuffer(text.encode(), np.uint8))");
        try
        {
            return StrictUtf8.GetString(array.AsBytes());
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{where} is not valid UTF-8 text: {e.Message}", e);
        }
    }
}
