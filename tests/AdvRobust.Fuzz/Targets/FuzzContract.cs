namespace AdvRobust.Fuzz;

/// <summary>What a fuzz target did wrong with one input: an exception outside the bad-input families, a bad-input
/// exception without a message, or an allocation out of proportion to the input.</summary>
public sealed class FuzzFindingException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The contract every reader of untrusted bytes keeps: it returns a value, or it throws one of the exceptions the
/// CLI reports as bad input or a file-system problem (Program.Fail: ArgumentException, FormatException,
/// InvalidDataException → exit 2; IOException → exit 4) with a message. Anything else (IndexOutOfRangeException,
/// NullReferenceException, OverflowException, KeyNotFoundException, a JsonException that escaped, OutOfMemory…) is a
/// finding, and so is allocating more than <see cref="AllocationLimit"/> for the input: a header that lies about a
/// size must be caught before the reader allocates what it claims. Hangs are libFuzzer's -timeout.
/// </summary>
public static class FuzzContract
{
    /// <summary>32 MiB plus 2,100 bytes per input byte: generous for deflate (at most ~1,032:1) followed by a float
    /// copy, and far below what a lying length field asks for (hundreds of MB from a few bytes).</summary>
    public static long AllocationLimit(int inputLength) => (32L << 20) + 2100L * inputLength;

    /// <summary>Runs <paramref name="target"/> on <paramref name="data"/>; throws <see cref="FuzzFindingException"/>
    /// when the contract is broken.</summary>
    public static void Check(FuzzTarget target, ReadOnlySpan<byte> data)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            target.Run(data);
        }
        catch (Exception e) when (IsBadInput(e))
        {
            RequireMessage(target.Name, e);
        }
        catch (Exception e) when (e is not FuzzFindingException)
        {
            throw new FuzzFindingException(
                $"{target.Name}: {e.GetType().FullName} is not a bad-input error: {e.Message}", e);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > AllocationLimit(data.Length))
            throw new FuzzFindingException($"{target.Name}: allocated {allocated:N0} bytes for a {data.Length}-byte " +
                $"input (limit {AllocationLimit(data.Length):N0})");
    }

    /// <summary>Runs one reader inside a target: a bad-input exception (with a message) ends only this step, so
    /// the target's other readers still see the input; anything else propagates as a finding.</summary>
    public static void Expect(string what, Action read)
    {
        try
        {
            read();
        }
        catch (Exception e) when (IsBadInput(e))
        {
            RequireMessage(what, e);
        }
    }

    /// <summary>The exception families Program.Fail maps to exit 2 (bad input) or 4 (file system).</summary>
    public static bool IsBadInput(Exception e) =>
        e is ArgumentException or FormatException or InvalidDataException or IOException;

    private static void RequireMessage(string what, Exception e)
    {
        if (string.IsNullOrWhiteSpace(e.Message))
            throw new FuzzFindingException($"{what}: {e.GetType().FullName} without a message", e);
    }
}
