namespace AdvRobust.Core.Tensors;

/// <summary>An immutable, contiguous row-major shape. Shape letters: N batch, C channels, H height, W width, D features.</summary>
public readonly record struct Shape
{
    private readonly int[] _dims;

    public Shape(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        long n = 1;
        foreach (int d in dims)
        {
            if (d < 0) throw new ArgumentException($"shape [{string.Join(", ", dims)}] has a negative dimension");
            n = checked(n * d);
        }
        _dims = (int[])dims.Clone();
        Elements = n;
    }

    public int Rank => _dims?.Length ?? 0;
    public long Elements { get; }
    public int this[int axis] => _dims[axis < 0 ? axis + Rank : axis];
    public ReadOnlySpan<int> Dims => _dims;

    /// <summary>Product of all dimensions after the first: the per-sample size for an N×... batch.</summary>
    public long PerSample => Rank == 0 ? 1 : (_dims[0] == 0 ? 0 : Elements / _dims[0]);

    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in Dims) h.Add(d);
        return h.ToHashCode();
    }

    public override string ToString() => "[" + string.Join(", ", _dims ?? []) + "]";
}
