using AdvRobust.Distributed;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `mpirun -n K advrobust certify`: rank 0 reads the result log (--out) and broadcasts which points are still to do;
/// each rank certifies its contiguous block of them (<see cref="Shards"/>; every noise draw is keyed by the point's
/// index, so a point's result does not depend on the rank); rank 0 appends its own points to the log as they finish,
/// and the other ranks' when they are gathered at the end (a run killed before then keeps rank 0's points only).
/// </summary>
internal static class CertifyRanks
{
    /// <summary>This rank's block of rank 0's list of points to do.</summary>
    public static int[] MyShare(int[] todo, ICommunicator world)
    {
        if (world.Size == 1) return todo;
        Span<int> length = [todo.Length];
        world.Broadcast(length);
        var all = world.IsRoot ? todo : new int[length[0]];
        world.Broadcast<int>(all);
        var (start, count) = Shards.Of(all.Length, world);
        return all[start..(start + count)];
    }

    private const int Fields = 8;

    /// <summary>Every rank's lines to rank 0, which adds the others' to <paramref name="results"/> and the log.</summary>
    public static void Collect(Dictionary<int, CertifyLine> results, CertifyLog? log, ICommunicator world)
    {
        var mine = results.Values.Where(_ => !world.IsRoot).SelectMany(Pack).ToArray();
        var gathered = world.Gather<double>(mine);
        if (gathered is null) return;
        foreach (double[] rank in gathered.Skip(1))
            for (int k = 0; k + Fields <= rank.Length; k += Fields)
            {
                var line = Unpack(rank.AsSpan(k, Fields));
                if (results.ContainsKey(line.Index)) continue;
                results[line.Index] = line;
                log?.Append(line);
            }
    }

    private static double[] Pack(CertifyLine l) =>
        [l.Index, l.Label, l.Predicted, l.Radius, l.Correct ? 1 : 0, l.Seconds, l.Count, l.PLower];

    private static CertifyLine Unpack(ReadOnlySpan<double> v) =>
        new((int)v[0], (int)v[1], (int)v[2], v[3], v[4] != 0, v[5], (int)v[6], v[7]);
}
