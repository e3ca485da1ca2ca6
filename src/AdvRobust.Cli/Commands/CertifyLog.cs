using System.Text;
using System.Text.Json;
using AdvRobust.Research.Certification;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// What a certification result depends on: the checkpoint's bytes (SHA-256), the architecture, the data, σ, N0, N, α,
/// the seed and the test-point stride. Lines written under other settings would mix two experiments in one file, so a
/// resumed run must match these exactly. The batch size and device are not here: they change only the float rounding
/// of the forward pass, never the noise.
/// </summary>
internal sealed record CertifySettings(string ModelSha256, string Arch, string Data, float Sigma, int N0, int N,
    double Alpha, ulong Seed, int Skip);

/// <summary>
/// The first line of a certify JSONL file: a tag, the settings, and (for the record only) model path, batch, device,
/// the commit of the build that started the file and its command line (absent in files from before they were kept).
/// </summary>
internal sealed record CertifyHeader(string Kind, CertifySettings Settings, string Model, int Batch, string Device,
    string? GitCommit = null, string? CommandLine = null);

/// <summary>One certified test point: <see cref="CertifiedPoint"/> plus n_A and the bound p_A behind the radius.</summary>
internal sealed record CertifyLine(int Index, int Label, int Predicted, double Radius, bool Correct, double Seconds,
    int Count, double PLower)
{
    public CertifiedPoint ToPoint() => new(Index, Label, Predicted, Radius, Correct, Seconds);
}

/// <summary>
/// The resumable result file of `advrobust certify`: a header line, then one JSON line per certified point, each written
/// and flushed to disk as soon as it is known, so a killed run loses at most the point in progress. Opening an existing
/// file checks its header against the current settings, reads the points already there, and drops a torn last line
/// (a write cut short has no newline) so appending continues from a clean line boundary.
/// </summary>
internal sealed class CertifyLog : IDisposable
{
    public const string Kind = "advrobust-certify";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private readonly FileStream _stream;
    private readonly StreamWriter _writer;

    private CertifyLog(FileStream stream, Dictionary<int, CertifyLine> existing)
    {
        _stream = stream;
        _writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
        Lines = existing;
    }

    /// <summary>The points in the file, by test index (read at open, then each appended one).</summary>
    public Dictionary<int, CertifyLine> Lines { get; }

    /// <summary>Opens or creates <paramref name="path"/> for <paramref name="header"/>'s settings.</summary>
    public static CertifyLog Open(string path, CertifyHeader header)
    {
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            var existing = new Dictionary<int, CertifyLine>();
            long keep = ReadExisting(path, stream, header.Settings, existing);
            stream.SetLength(keep);
            stream.Seek(keep, SeekOrigin.Begin);
            var log = new CertifyLog(stream, existing);
            if (keep == 0) log.WriteLine(JsonSerializer.Serialize(header, Json));
            return log;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    public void Append(CertifyLine line)
    {
        WriteLine(JsonSerializer.Serialize(line, Json));
        Lines[line.Index] = line;
    }

    public void Dispose()
    {
        _writer.Dispose();
        _stream.Dispose();
    }

    private void WriteLine(string json)
    {
        _writer.Write(json);
        _writer.Write('\n');
        _writer.Flush();
        _stream.Flush(flushToDisk: true);
    }

    /// <summary>Reads the complete lines of the file; returns the byte length to keep (0: start afresh).</summary>
    private static long ReadExisting(string path, FileStream stream, CertifySettings settings,
        Dictionary<int, CertifyLine> lines)
    {
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        int end = Array.LastIndexOf(bytes, (byte)'\n') + 1;  // complete lines only; a torn tail is dropped
        if (end == 0) return 0;
        var text = Encoding.UTF8.GetString(bytes, 0, end).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (text.Length == 0)
            throw new InvalidDataException($"{path}:1: not an advrobust certify file (only empty lines)");
        var header = Parse<CertifyHeader>(path, 1, text[0]);
        if (header.Kind != Kind || header.Settings is null)
            throw new InvalidDataException($"{path}:1: not an advrobust certify file (its first line has no \"{Kind}\" header)");
        if (header.Settings != settings)
            throw new InvalidDataException($"{path} was written with other settings ({Describe(header.Settings, settings)}); "
                + "resume with the same settings or choose another --out");
        for (int i = 1; i < text.Length; i++)
        {
            var line = Parse<CertifyLine>(path, i + 1, text[i]);
            lines[line.Index] = line;
        }
        return end;
    }

    private static T Parse<T>(string path, int lineNumber, string line)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(line, Json)
                ?? throw new InvalidDataException($"{path}:{lineNumber}: the line is JSON null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{lineNumber}: not a valid {typeof(T).Name} line: {e.Message}");
        }
    }

    /// <summary>"sigma 0.25 in the file, 0.5 now; ..." for every setting that differs.</summary>
    private static string Describe(CertifySettings was, CertifySettings now)
    {
        var diffs = typeof(CertifySettings).GetProperties()
            .Select(p => (p.Name, Was: p.GetValue(was), Now: p.GetValue(now)))
            .Where(d => !Equals(d.Was, d.Now))
            .Select(d => $"{d.Name} {d.Was} in the file, {d.Now} now");
        return string.Join("; ", diffs);
    }
}
