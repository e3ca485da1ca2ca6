namespace AdvRobust.Cli.Commands;

/// <summary>Notes about a request the command changed rather than refused (a count cut to what the data holds, a batch
/// split to fit in memory), on stderr so that they are seen beside the results without mixing into them.</summary>
internal static class Notes
{
    public static void Print(string? note)
    {
        if (note is not null) Console.Error.WriteLine($"advrobust: note: {note}");
    }
}
