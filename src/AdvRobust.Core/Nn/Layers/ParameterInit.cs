using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>
/// Seeded parameter initialization: every random draw comes from Philox. The n-th random tensor a model creates (in
/// construction order, counted from 0) uses stream n; its elements 4j … 4j+3 come from block j =
/// <c>Philox.Draw(seed, stream = n, purpose = 4, sample = 0, element = j)</c>, words X0 … X3. A uniform element 4j+w
/// is <see cref="Philox.Uniform"/>(X_w); normal elements 4j, 4j+1 are the Box–Muller pair of (X0, X1) —
/// <see cref="Philox.Normal"/>(X0, X1) and its sine twin — and 4j+2, 4j+3 that of (X2, X3). So a model built twice
/// with one seed has bit-identical weights, whatever the thread count. Constant tensors use no stream.
/// <see cref="ForLoading"/> skips the draws (random tensors start at zero) for a model whose weights come from a
/// checkpoint next, or whose structure alone is wanted.
/// Fans follow PyTorch: for dims K×C×R×S (or Out×In), fan_in = C·R·S and fan_out = K·R·S.
/// </summary>
public sealed class ParameterInit
{
    /// <summary>The Philox purpose word of initialization draws (0, 1: PGD, 2: shuffle, 3: crop/flip).</summary>
    public const uint PurposeInit = Philox.PurposeInit;

    private readonly bool _draw;

    public ParameterInit(IBackend backend, ulong seed) : this(backend, seed, true)
    {
    }

    private ParameterInit(IBackend backend, ulong seed, bool draw)
    {
        ArgumentNullException.ThrowIfNull(backend);
        (Backend, Seed, _draw) = (backend, seed, draw);
    }

    /// <summary>No random draws: every random tensor starts at zero (constants are still set). For weights that a
    /// checkpoint overwrites next, or for inspecting names, shapes and counts without the cost of drawing.</summary>
    public static ParameterInit ForLoading(IBackend backend) => new(backend, 0, false);

    public IBackend Backend { get; }
    public ulong Seed { get; }

    /// <summary>How many random tensors were drawn so far: the stream the next one uses.</summary>
    public uint NextStream { get; private set; }

    public static int FanIn(int[] dims) => dims.Length < 2 ? dims[0] : dims[1] * Receptive(dims);
    public static int FanOut(int[] dims) => dims[0] * Receptive(dims);

    /// <summary>N(0, 2/fan_out): torchvision ResNets' kaiming_normal_(mode="fan_out", nonlinearity="relu"), and the
    /// TRADES/RobustBench WideResNet's normal_(0, sqrt(2/(k·k·out_channels))), which is the same.</summary>
    public Tensor KaimingNormalFanOut(params int[] dims) => Normal(MathF.Sqrt(2f / FanOut(dims)), dims);

    /// <summary>U(−1/√fan_in, 1/√fan_in): PyTorch's default kaiming_uniform_(a=√5) for Conv2d and Linear weights
    /// (gain √(2/(1+5)) times √(3/fan_in)), and the default for their biases.</summary>
    public Tensor KaimingUniformDefault(int fanIn, params int[] dims) => Uniform(1f / MathF.Sqrt(fanIn), dims);

    public Tensor Normal(float std, params int[] dims)
    {
        uint stream = NextStream++;
        return _draw
            ? Tensor.FromArray(Backend, NormalValues(Seed, stream, new Shape(dims).Elements, std), dims)
            : Constant(0f, dims);
    }

    /// <summary>U(−bound, bound).</summary>
    public Tensor Uniform(float bound, params int[] dims)
    {
        uint stream = NextStream++;
        return _draw
            ? Tensor.FromArray(Backend, UniformValues(Seed, stream, new Shape(dims).Elements, bound), dims)
            : Constant(0f, dims);
    }

    public Tensor Constant(float value, params int[] dims)
    {
        var t = Tensor.Empty(Backend, DType.Float32, dims);
        Ops.Fill(t, value);
        return t;
    }

    /// <summary>The values <see cref="Normal"/> draws for one stream: std·N(0,1) per element.</summary>
    public static float[] NormalValues(ulong seed, uint stream, long count, float std)
    {
        var values = new float[count];
        ForEachBlock(count, (first, last) =>
        {
            Span<float> four = stackalloc float[4];
            for (long j = first; j < last; j++)
            {
                var r = Philox.Draw(seed, stream, PurposeInit, 0, (uint)j);
                (four[0], four[1]) = BoxMuller(r.X0, r.X1);
                (four[2], four[3]) = BoxMuller(r.X2, r.X3);
                for (int w = 0; w < 4 && 4 * j + w < count; w++) values[4 * j + w] = std * four[w];
            }
        });
        return values;
    }

    /// <summary>The values <see cref="Uniform"/> draws for one stream: −bound + 2·bound·U[0,1) per element.</summary>
    public static float[] UniformValues(ulong seed, uint stream, long count, float bound)
    {
        var values = new float[count];
        ForEachBlock(count, (first, last) =>
        {
            for (long j = first; j < last; j++)
            {
                var r = Philox.Draw(seed, stream, PurposeInit, 0, (uint)j);
                long i = 4 * j;
                values[i] = -bound + 2f * bound * Philox.Uniform(r.X0);
                if (i + 1 < count) values[i + 1] = -bound + 2f * bound * Philox.Uniform(r.X1);
                if (i + 2 < count) values[i + 2] = -bound + 2f * bound * Philox.Uniform(r.X2);
                if (i + 3 < count) values[i + 3] = -bound + 2f * bound * Philox.Uniform(r.X3);
            }
        });
        return values;
    }

    /// <summary>Box–Muller: (√(−2 ln u1)·cos 2πu2, √(−2 ln u1)·sin 2πu2); the first is exactly
    /// <see cref="Philox.Normal"/>.</summary>
    private static (float, float) BoxMuller(uint bits1, uint bits2)
    {
        float radius = MathF.Sqrt(-2f * MathF.Log(Philox.UniformOpenZero(bits1)));
        float angle = 2f * MathF.PI * Philox.Uniform(bits2);
        return (radius * MathF.Cos(angle), radius * MathF.Sin(angle));
    }

    /// <summary>Calls <paramref name="body"/> on ranges of Philox blocks (4 elements each), in parallel. Each element
    /// is a pure function of its index, so the split cannot change a value.</summary>
    private static void ForEachBlock(long count, Action<long, long> body)
    {
        long blocks = (count + 3) / 4;
        if (blocks > uint.MaxValue) throw new ArgumentException($"{count} elements overflow the 32-bit block counter");
        const long chunk = 1 << 13;
        Parallel.For(0, (blocks + chunk - 1) / chunk, c => body(c * chunk, Math.Min(blocks, (c + 1) * chunk)));
    }

    private static int Receptive(int[] dims)
    {
        int r = 1;
        for (int i = 2; i < dims.Length; i++) r *= dims[i];
        return r;
    }
}
