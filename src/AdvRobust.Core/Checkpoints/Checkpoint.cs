using System.Runtime.InteropServices;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Serialization;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Checkpoints;

/// <summary>
/// Model checkpoints as safetensors files with PyTorch state-dict names (README.md in this folder gives the mapping):
/// every parameter and buffer of the model under its full dotted name, F32, except "num_batches_tracked" buffers,
/// which are I64 as in PyTorch. Saving is atomic (a complete file or the old one, never half a file). Loading checks
/// the whole file against the model first (missing names, unexpected names, wrong shapes, wrong dtypes, all named in
/// one message), then every value (a NaN or infinity names the tensor and its first bad element) and the
/// normalization metadata, and changes nothing unless everything is right.
/// </summary>
public static class Checkpoint
{
    /// <summary>The buffer name stored as I64 rather than F32.</summary>
    public const string NumBatchesTracked = "num_batches_tracked";

    /// <summary>Writes every parameter and buffer of <paramref name="model"/> to <paramref name="path"/>, with
    /// <paramref name="metadata"/> (plus "format": "pt", as safetensors.torch writes it, unless given).</summary>
    public static void Save(string path, Module model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var tensors = new List<(string Name, string DType, int[] Shape, ReadOnlyMemory<byte> Data)>();
        foreach (var (name, tensor, dtype) in State(model))
        {
            var values = tensor.ToArray<float>();
            byte[] bytes = dtype == "I64"
                ? MemoryMarshal.AsBytes(values.Select(v => checked((long)MathF.Round(v))).ToArray().AsSpan()).ToArray()
                : MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
            tensors.Add((name, dtype, tensor.Shape.Dims.ToArray(), bytes));
        }
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        meta.TryAdd("format", "pt");
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>Loads <paramref name="path"/> into <paramref name="model"/> and returns the file's metadata. Throws
    /// <see cref="InvalidDataException"/> naming every mismatch, non-finite tensor or bad normalization metadata,
    /// before any tensor of the model is changed.</summary>
    public static IReadOnlyDictionary<string, string> Load(string path, Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = SafeTensors.Read(path);
        var state = State(model);
        var expected = new HashSet<string>(state.Select(s => s.Name), StringComparer.Ordinal);
        var missing = new List<string>();
        var wrongShape = new List<string>();
        var wrongDType = new List<string>();
        foreach (var (name, tensor, dtype) in state)
        {
            if (!file.TryGet(name, out var entry)) { missing.Add($"'{name}'"); continue; }
            if (!entry.Shape.AsSpan().SequenceEqual(tensor.Shape.Dims))
                wrongShape.Add($"'{name}' (file {Dims(entry.Shape)}, model {tensor.Shape})");
            if (entry.DType != dtype) wrongDType.Add($"'{name}' (file {entry.DType}, model {dtype})");
        }
        var unexpected = file.Tensors.Select(t => t.Name).Where(n => !expected.Contains(n))
            .Order(StringComparer.Ordinal).Select(n => $"'{n}'").ToList();
        if (missing.Count + unexpected.Count + wrongShape.Count + wrongDType.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"missing {string.Join(", ", missing)}");
            if (unexpected.Count > 0) parts.Add($"unexpected {string.Join(", ", unexpected)}");
            if (wrongShape.Count > 0) parts.Add($"wrong shape {string.Join(", ", wrongShape)}");
            if (wrongDType.Count > 0) parts.Add($"wrong dtype {string.Join(", ", wrongDType)}");
            throw new InvalidDataException(
                $"{path}: checkpoint does not match {model.GetType().Name}: {string.Join("; ", parts)}");
        }
        var values = state.Select(s => s.DType == "I64"
            ? file[s.Name].ToInt64().Select(v => (float)v).ToArray()
            : CheckpointValues.Finite(path, file[s.Name])).ToArray();
        CheckpointValues.Normalization(path, file.Metadata);
        for (int i = 0; i < state.Count; i++)
        {
            var tensor = state[i].Tensor;
            tensor.Backend.CopyIn<float>(tensor.Storage, values[i]);
        }
        return file.Metadata;
    }

    /// <summary>
    /// The input normalization a checkpoint records in its "normalize.mean" and "normalize.std" metadata
    /// (comma-separated, one value per channel), or null when it records none. Throws
    /// <see cref="InvalidDataException"/> naming the file and key when a value is not a number, not finite, or
    /// (std) not positive, or when only one of the two keys is present.
    /// </summary>
    public static (float[] Mean, float[] Std)? ReadNormalization(string path) =>
        CheckpointValues.Normalization(path, SafeTensors.Read(path).Metadata);

    /// <summary>The model's state in checkpoint order: parameters, then buffers, each with its file dtype.</summary>
    public static IReadOnlyList<(string Name, Tensor Tensor, string DType)> State(Module model)
    {
        var state = new List<(string, Tensor, string)>();
        foreach (var (name, p) in model.NamedParameters()) state.Add((name, p.Value, "F32"));
        foreach (var (name, b) in model.NamedBuffers())
        {
            if (b.DType != DType.Float32)
                throw new NotSupportedException($"buffer '{name}' is {b.DType}; checkpoints hold Float32 tensors");
            bool counter = name == NumBatchesTracked
                || name.EndsWith("." + NumBatchesTracked, StringComparison.Ordinal);
            state.Add((name, b, counter ? "I64" : "F32"));
        }
        return state;
    }

    private static string Dims(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
