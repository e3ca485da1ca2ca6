using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AdvRobust.Research.Training;

/// <summary>
/// manifest.json of a run directory: what is needed to know exactly what ran and to run it again. The resolved
/// <see cref="Config"/> is the whole config after overrides (a resume reads it back, so a resumed run cannot drift
/// from the original); <see cref="Objective"/> holds the settings the objective actually used, defaults included.
/// <see cref="Status"/> is "running" (also what a run killed outright leaves), "completed", "cancelled" (stopped by
/// Ctrl-C or SIGTERM after saving a checkpoint; resumable) or "diverged" (a NaN/Inf loss; the last checkpoint is the
/// last good one). Each <c>--resume</c> of an unfinished run appends a <see cref="RunResumption"/> with its own
/// command line and environment (FromStep 0 when it restarted a run killed before its first checkpoint); resuming a
/// completed run changes nothing.
/// </summary>
public sealed record RunManifest(
    string Format,
    string Status,
    DateTimeOffset StartTime,
    DateTimeOffset? EndTime,
    ulong Seed,
    string GitCommit,
    RunEnvironment Environment,
    TrainConfig Config,
    ObjectiveRecord Objective,
    RunShape Shape,
    IReadOnlyList<RunResumption> Resumptions)
{
    /// <summary>The manifest format written by this version.</summary>
    public const string CurrentFormat = "advrobust-run/1";

    public string ToJson() => JsonSerializer.Serialize(this, ConfigSchema.Options);

    public static RunManifest FromJson(string json, string source)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<RunManifest>(json, ConfigSchema.Options)
                ?? throw new InvalidDataException($"{source}: the manifest is null");
            if (manifest.Format != CurrentFormat)
                throw new InvalidDataException(
                    $"{source}: manifest format '{manifest.Format}', this version reads '{CurrentFormat}'");
            return manifest;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not a valid run manifest: {e.Path}: {e.Message}", e);
        }
    }
}

/// <summary>The objective as built: its name and the exact settings record it reported, as JSON.</summary>
public sealed record ObjectiveRecord(string Name, JsonElement Settings);

/// <summary>What the config turned into: the model class and its parameter count, the data actually used, and the
/// run's length in optimizer steps.</summary>
public sealed record RunShape(
    string Model,
    long Parameters,
    int TrainImages,
    string TrainSource,
    int EvalImages,
    string EvalImagesAre,
    int BatchesPerEpoch,
    long TotalSteps,
    string? Synthetic = null);

/// <summary>One <c>--resume</c>: when, from where, by which command on which machine and commit.</summary>
public sealed record RunResumption(
    DateTimeOffset Time,
    int FromEpoch,
    long FromStep,
    string GitCommit,
    RunEnvironment Environment);

/// <summary>
/// The machine and software a session ran on: the command line, the backend ("cpu"/"cuda") and device, the CUDA
/// flags, .NET and OS, and the native library versions found (for CUDA: driver, NVRTC, cuBLAS, cuDNN, as
/// <c>advrobust doctor</c> reports them; the CLI fills <see cref="Libraries"/>, since Core never references CUDA).
/// </summary>
public sealed record RunEnvironment(
    string CommandLine,
    string Backend,
    string Device,
    bool Deterministic,
    bool Tf32,
    string DotNet,
    string Os,
    string Architecture,
    int ProcessorCount,
    IReadOnlyDictionary<string, string> Libraries)
{
    /// <summary>A data-parallel run's number of ranks (null: one process); <c>--resume</c> needs the same.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? WorldSize { get; init; }

    /// <summary>A data-parallel run's ranks in rank order, each "rank r: host, backend device".</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Ranks { get; init; }

    /// <summary>This process's environment on <paramref name="backend"/>.</summary>
    public static RunEnvironment Capture(string commandLine, IBackend backend, bool deterministic, bool tf32,
        IReadOnlyDictionary<string, string>? libraries = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        return new RunEnvironment(commandLine, backend.Name, backend.DeviceName, deterministic, tf32,
            RuntimeInformation.FrameworkDescription, RuntimeInformation.OSDescription,
            RuntimeInformation.ProcessArchitecture.ToString(), System.Environment.ProcessorCount,
            libraries ?? new Dictionary<string, string>());
    }
}
