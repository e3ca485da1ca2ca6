using AdvRobust.Core.Data;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// TLA's draws from the training set: the negative pool of a step and each sample's random same-class positive, both
/// keyed by the step key (<see cref="StepRandom"/>), so they are pure functions of (seed, step, sample id). The class
/// member lists are built once and never change.
/// </summary>
internal sealed class TlaSampler
{
    private readonly LabeledImages _data;
    private readonly int[][] _members;
    private readonly int[] _rank;

    public TlaSampler(LabeledImages data)
    {
        _data = data;
        var members = Enumerable.Range(0, data.Classes).Select(_ => new List<int>()).ToArray();
        _rank = new int[data.N];
        for (int i = 0; i < data.N; i++)
        {
            _rank[i] = members[data.Labels[i]].Count;
            members[data.Labels[i]].Add(i);
        }
        _members = members.Select(m => m.ToArray()).ToArray();
    }

    public LabeledImages Data => _data;

    /// <summary>
    /// <paramref name="size"/> distinct training-set indices, uniform without replacement (as the reference draws its
    /// pool from a shuffled iterator): a Fisher–Yates shuffle of 0..N−1 stopped after <paramref name="size"/> swaps,
    /// with the moved entries kept in a dictionary; slot k's draw is keyed by (step key, pool purpose, k).
    /// </summary>
    public int[] Pool(int size, ulong key)
    {
        int n = _data.N;
        if (size > n)
            throw new ArgumentException(
                $"tla: a negative pool of {size} images (poolMultiplier × batch size) needs at least as many " +
                $"training images, {_data.Source} has {n}");
        var moved = new Dictionary<int, int>();
        var pool = new int[size];
        for (int k = 0; k < size; k++)
        {
            int j = k + StepRandom.UniformBelow(n - k, key, StepRandom.PurposeTlaPool, (uint)k);
            pool[k] = moved.GetValueOrDefault(j, j);
            moved[j] = moved.GetValueOrDefault(k, k);
        }
        return pool;
    }

    /// <summary>
    /// Per row, a training image of the row's class other than the sample itself (uniform over the others), or the
    /// sample itself when it is its class's only member. The sample is recognised by its id: row i is training image
    /// ids[i] when that index holds an image of label labels[i].
    /// </summary>
    public int[] Positives(int[] labels, uint[] ids, ulong key)
    {
        var positives = new int[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            int y = labels[i];
            if (y >= _members.Length || _members[y].Length == 0)
                throw new ArgumentException(
                    $"tla: row {i} has label {y}, and {_data.Source} has no image of that class for its positive");
            int[] members = _members[y];
            uint id = ids[i];
            bool self = id < (uint)_data.N && _data.Labels[id] == y && members.Length > 1;
            int j = StepRandom.UniformBelow(self ? members.Length - 1 : members.Length, key,
                StepRandom.PurposeTlaPositive, id);
            positives[i] = members[self && j >= _rank[id] ? j + 1 : j];
        }
        return positives;
    }
}
