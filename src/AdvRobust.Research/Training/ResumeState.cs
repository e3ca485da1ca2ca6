using System.Runtime.InteropServices;
using System.Text.Json;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Serialization;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training;

/// <summary>
/// Where a run stands: <see cref="Epoch"/> is the 0-based epoch in progress and <see cref="BatchesDone"/> how many of
/// its batches are trained (0 at an epoch boundary; all of them when stopped before the epoch's evaluation);
/// <see cref="Step"/> the optimizer steps taken (the SGD iteration); the best PGD accuracy so far and its epoch
/// (1-based; −1 and 0 before the first evaluation); and <see cref="Partial"/>, the epoch's running sums, so the
/// epoch's metrics line comes out the same whether or not the run was stopped inside it.
/// </summary>
public sealed record TrainerState(
    int Epoch,
    int BatchesDone,
    long Step,
    double BestPgdAccuracy,
    int BestEpoch,
    EpochTotals Partial)
{
    public static TrainerState Start { get; } = new(0, 0, 0, -1, 0, EpochTotals.Empty);
}

/// <summary>An epoch's running sums: loss and components weighted by each batch's example count, correct and
/// counted examples, the seconds spent training, and the learning rate of the latest step.</summary>
public sealed record EpochTotals(
    double LossSum,
    IReadOnlyDictionary<string, double> ComponentSums,
    long Correct,
    long Count,
    double TrainSeconds,
    double LastLr)
{
    public static EpochTotals Empty { get; } = new(0, new Dictionary<string, double>(), 0, 0, 0, 0);

    /// <summary>These sums plus one step's statistics.</summary>
    public EpochTotals Add(StepStats stats, double lr, double seconds)
    {
        var components = new Dictionary<string, double>(ComponentSums, StringComparer.Ordinal);
        foreach (var (name, value) in stats.Components)
            components[name] = components.GetValueOrDefault(name) + value * stats.Count;
        return new EpochTotals(LossSum + stats.Loss * stats.Count, components, Correct + stats.Correct,
            Count + stats.Count, TrainSeconds + seconds, lr);
    }
}

/// <summary>
/// resume.safetensors: everything <c>--resume</c> needs in ONE atomically written file, so it can never pair the
/// weights of one step with the optimizer state of another: the model's parameters and buffers under
/// "model.&lt;name&gt;" (dtypes as in <see cref="Checkpoint"/>), each momentum buffer under "momentum.&lt;name&gt;",
/// and the <see cref="TrainerState"/> as JSON in the metadata key "trainer_state". (last.safetensors holds the same
/// weights in the plain checkpoint layout that <c>advrobust eval</c> loads.)
/// </summary>
public static class ResumeState
{
    public const string StateKey = "trainer_state";
    private const string ModelPrefix = "model.", MomentumPrefix = "momentum.";

    public static void Save(string path, Module model, TrainerState state)
    {
        var tensors = new List<(string, string, int[], ReadOnlyMemory<byte>)>();
        foreach (var (name, tensor, dtype) in Checkpoint.State(model))
            tensors.Add((ModelPrefix + name, dtype, tensor.Shape.Dims.ToArray(), Bytes(tensor, dtype)));
        foreach (var (name, p) in model.NamedParameters())
            if (p.Momentum is { } m)
                tensors.Add((MomentumPrefix + name, "F32", m.Shape.Dims.ToArray(), Bytes(m, "F32")));
        var meta = new Dictionary<string, string>
        {
            [StateKey] = JsonSerializer.Serialize(state, EpochMetrics.Compact),
        };
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>Restores the model's weights and buffers and the momentum buffers from <paramref name="path"/> and
    /// returns the trainer state. Everything is checked before anything is changed.</summary>
    public static TrainerState Load(string path, Module model)
    {
        var file = SafeTensors.Read(path);
        if (!file.Metadata.TryGetValue(StateKey, out string? json))
            throw new InvalidDataException($"{path}: no '{StateKey}' metadata: not a resume checkpoint");
        TrainerState state;
        try
        {
            state = JsonSerializer.Deserialize<TrainerState>(json, EpochMetrics.Compact)
                ?? throw new JsonException("null state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: unreadable '{StateKey}': {e.Message}", e);
        }
        var targets = Checkpoint.State(model).Select(s => (ModelPrefix + s.Name, s.Tensor, s.DType)).ToList();
        var expected = targets.Select(t => t.Item1).ToHashSet(StringComparer.Ordinal);
        var parameters = model.NamedParameters().ToDictionary(p => MomentumPrefix + p.Name, p => p.Parameter);
        var problems = new List<string>();
        foreach (var (name, tensor, dtype) in targets)
        {
            if (!file.TryGet(name, out var entry)) problems.Add($"missing '{name}'");
            else if (!entry.Shape.AsSpan().SequenceEqual(tensor.Shape.Dims) || entry.DType != dtype)
                problems.Add($"'{name}' is {entry.DType}{Dims(entry.Shape)}, the model has {dtype}{tensor.Shape}");
        }
        foreach (var entry in file.Tensors.Where(t => !expected.Contains(t.Name)))
        {
            if (!parameters.TryGetValue(entry.Name, out var p)) problems.Add($"unexpected '{entry.Name}'");
            else if (!entry.Shape.AsSpan().SequenceEqual(p.Value.Shape.Dims) || entry.DType != "F32")
                problems.Add($"'{entry.Name}' is {entry.DType}{Dims(entry.Shape)}, the parameter F32{p.Value.Shape}");
        }
        if (problems.Count > 0)
            throw new InvalidDataException(
                $"{path}: does not match {model.GetType().Name}: {string.Join("; ", problems)}");

        foreach (var (name, tensor, dtype) in targets)
        {
            var entry = file[name];
            float[] values = dtype == "I64" ? entry.ToInt64().Select(v => (float)v).ToArray() : entry.ToFloats();
            tensor.Backend.CopyIn<float>(tensor.Storage, values);
        }
        foreach (var (name, p) in parameters)
        {
            if (!file.TryGet(name, out var entry))
            {
                p.Momentum?.Dispose();
                p.Momentum = null;
                continue;
            }
            p.Momentum ??= Tensor.Zeros(p.Value.Backend, p.Value.Shape.Dims.ToArray());
            p.Momentum.Backend.CopyIn<float>(p.Momentum.Storage, entry.ToFloats());
        }
        return state;
    }

    private static ReadOnlyMemory<byte> Bytes(Tensor tensor, string dtype)
    {
        var values = tensor.ToArray<float>();
        return dtype == "I64"
            ? MemoryMarshal.AsBytes(values.Select(v => checked((long)MathF.Round(v))).ToArray().AsSpan()).ToArray()
            : MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    }

    private static string Dims(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
