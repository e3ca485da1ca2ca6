using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using AdvRobust.Core;
using AdvRobust.Research.Training;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// What produced a result file, written into it as its "Provenance" object, so that eval, detect, proxy rank and the
/// demo's evaluation and detection files say what they were as a run's manifest does: when, the commit of the
/// running build (<see cref="GitCommit.OfRunningCode"/>), the checkpoint (path, size, SHA-256), the data (where the
/// images came from, how many) and the machine (<see cref="RunEnvironment"/>: backend, device, TF32, .NET, OS, the
/// command line, and for CUDA the driver/NVRTC/cuBLAS/cuDNN versions). Readers of these files ignore the field.
/// </summary>
internal static class Provenance
{
    public const string Field = "Provenance";

    /// <summary>The file a result came from: full path, size and SHA-256 (lower-case hex).</summary>
    internal sealed record FileIdentity(string Path, long Bytes, string Sha256)
    {
        public static FileIdentity Of(string path)
        {
            string full = System.IO.Path.GetFullPath(path);
            using var stream = File.OpenRead(full);
            return new FileIdentity(full, stream.Length, Convert.ToHexStringLower(SHA256.HashData(stream)));
        }
    }

    /// <summary>The stamp; the command line is the environment's, as in a run manifest.</summary>
    internal sealed record Record(DateTimeOffset Time, string GitCommit, FileIdentity? Checkpoint,
        IReadOnlyList<string> Data, RunEnvironment Environment);

    /// <summary>The command line as typed, each token shell-quoted where it needs it.</summary>
    public static string CommandLine(ParseResult parse) =>
        "advrobust " + string.Join(' ', parse.Tokens.Select(t => Quote(t.Value)));

    /// <summary>A token as a POSIX shell would need it: bare when safe, else in single quotes.</summary>
    public static string Quote(string token) =>
        token.Length > 0 && token.All(c => char.IsLetterOrDigit(c) || "-_./=:,+@".Contains(c))
            ? token
            : "'" + token.Replace("'", "'\\''") + "'";

    /// <summary>This process's record: <paramref name="data"/> names each image set used ("source (N images)").</summary>
    public static Record Capture(string commandLine, IBackend backend, bool tf32, string? checkpoint,
        params string[] data) =>
        new(DateTimeOffset.Now, GitCommit.OfRunningCode(), checkpoint is null ? null : FileIdentity.Of(checkpoint), data,
            RunEnvironment.Capture(commandLine, backend, deterministic: false, tf32, TrainCommand.Libraries(backend)));

    /// <summary><paramref name="resultJson"/> (a JSON object) with <paramref name="record"/> as its first field.</summary>
    public static string Attach(string resultJson, Record record)
    {
        var result = JsonNode.Parse(resultJson) as JsonObject
            ?? throw new InvalidOperationException("a result to stamp must be a JSON object");
        var stamped = new JsonObject { [Field] = JsonSerializer.SerializeToNode(record, Options) };
        foreach (var (name, value) in result.ToList())
        {
            if (name == Field) continue;
            result.Remove(name);
            stamped[name] = value;
        }
        return stamped.ToJsonString(Options);
    }

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };
}
