using AdvRobust.Core.Random;

namespace AdvRobust.Research.Proxy;

/// <summary>
/// Every random draw of the proxy code: <c>Philox.Draw(seed, stream, Philox.PurposeProxy, sample, element)</c>, with
/// one stream per use (so the PCA, mixup and noise generators run with one seed are still independent of each other)
/// and the synthetic sample's index as the sample word. Sample i of a generated set is therefore a pure function of
/// (seed, i): the same whatever the count, the thread count or the order the samples are made in.
/// </summary>
internal static class ProxyDraws
{
    /// <summary>Streams: one per generator, one for sub-seeds, one for the eigen-solver's start vectors.</summary>
    public const uint StreamPca = 0, StreamMixup = 1, StreamNoise = 2, StreamSeeds = 3, StreamEigen = 4;

    /// <summary>
    /// An integer in [0, <paramref name="bound"/>) from one 32-bit word by multiply-shift, ⌊bits·bound / 2³²⌋. Its bias
    /// is below bound/2³² (under 2·10⁻⁵ for 60,000 images), far below anything a proxy set could show, and it needs no
    /// rejection loop, so every pick costs exactly one word.
    /// </summary>
    public static int Below(uint bits, int bound)
    {
        if (bound < 1) throw new ArgumentOutOfRangeException(nameof(bound), $"bound must be >= 1, got {bound}");
        return (int)(((ulong)bits * (uint)bound) >> 32);
    }

    /// <summary>
    /// Standard normals for one sample: values 4b … 4b+3 come from block <c>firstElement + b</c>, as the Box–Muller
    /// pairs of its words (X0, X1) and (X2, X3) (cosine, then sine), the scheme ParameterInit uses.
    /// </summary>
    public static void Normals(ulong seed, uint stream, uint sample, uint firstElement, Span<float> values)
    {
        for (int b = 0; 4 * b < values.Length; b++)
        {
            var r = Philox.Draw(seed, stream, Philox.PurposeProxy, sample, firstElement + (uint)b);
            var (z0, z1) = BoxMuller(r.X0, r.X1);
            var (z2, z3) = BoxMuller(r.X2, r.X3);
            int at = 4 * b, left = values.Length - at;
            values[at] = z0;
            if (left > 1) values[at + 1] = z1;
            if (left > 2) values[at + 2] = z2;
            if (left > 3) values[at + 3] = z3;
        }
    }

    /// <summary>A 64-bit seed for one sub-task (weight init, loader, attacks) derived from the run's seed and a
    /// tag, so the sub-tasks draw independently but all follow from the one seed the user gives.</summary>
    public static ulong SubSeed(ulong seed, uint tag)
    {
        var r = Philox.Draw(seed, StreamSeeds, Philox.PurposeProxy, tag, 0);
        return r.X0 | (ulong)r.X1 << 32;
    }

    /// <summary>Clips a pixel value to [0, 1] and rounds it to the nearest of the 256 uint8 levels (ties to even, as
    /// numpy.round). The generators only pass finite values.</summary>
    public static byte Quantize(float value) => (byte)MathF.Round(Math.Clamp(value, 0f, 1f) * 255f);

    private static (float, float) BoxMuller(uint bits1, uint bits2)
    {
        float radius = MathF.Sqrt(-2f * MathF.Log(Philox.UniformOpenZero(bits1)));
        float angle = 2f * MathF.PI * Philox.Uniform(bits2);
        return (radius * MathF.Cos(angle), radius * MathF.Sin(angle));
    }
}
