namespace AdvRobust.Core.Random;

/// <summary>
/// Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers: as easy as 1, 2, 3"), the counter-based RNG
/// every random draw in the engine comes from. A draw is a pure function of (key, counter), so element i of a
/// batch gets the same number whatever the batch split, thread count or launch geometry. kernels/philox.cuh holds
/// the device twin of this code; both must stay bit-identical (tests check known-answer vectors on both).
///
/// Counter layout used by the engine: (element within its sample, global sample index, stream, purpose) and
/// key = (seed lo, seed hi). Keying by the sample's global index (not its row in the current batch) is what makes an
/// attack's random start independent of the batch size: sample 1000 gets the same noise in a batch of 32 or of 256.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>
    /// Draw purposes: the fourth counter word, so different uses of one (seed, stream) never collide. Every purpose in
    /// the engine is listed here: attack random starts per element and per sample, the data loader's shuffle, crop and
    /// flip augmentation, weight initialization, the Square attack's start (l-inf stripes, l2 windows) and per-query
    /// draws, and the Gaussian noise of randomized smoothing and noise augmentation (<c>Ops.GaussianNoise</c>,
    /// kernels/noise.cu); below, the proxy generators' draws (8) and FAB-T's random restarts (9). The research layer's
    /// training objectives use 16–19 for their per-step draws (AdvRobust.Research, Training/Objectives/StepRandom.cs),
    /// clear of any engine purpose added here later.
    /// </summary>
    public const uint PurposeElement = 0, PurposeSample = 1, PurposeShuffle = 2, PurposeAugment = 3,
        PurposeInit = 4, PurposeSquareInit = 5, PurposeSquareStep = 6, PurposeNoise = 7;

    public static (uint X0, uint X1, uint X2, uint X3) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The engine's draw for element <paramref name="element"/> of sample <paramref name="sample"/>.</summary>
    public static (uint X0, uint X1, uint X2, uint X3) Draw(ulong seed, uint stream, uint purpose, uint sample, uint element) =>
        Block(element, sample, stream, purpose, (uint)seed, (uint)(seed >> 32));

    /// <summary>The proxy generators' draws (Proxy/ProxyDraws.cs: picks, mixing weights, Gaussian coefficients and
    /// noise, discriminator sub-seeds). Listed apart from the purposes above; 7 is randomized smoothing's noise.</summary>
    public const uint PurposeProxy = 8;

    /// <summary>FAB-T's random start on restarts after the first (Attacks/Fab.cs): element = pixel index within the
    /// sample, stream = the run (target rank × restarts + restart).</summary>
    public const uint PurposeFabStart = 9;

    /// <summary>Uniform in [0, 1) with 24 random bits, exactly representable as a float.</summary>
    public static float Uniform(uint bits) => (bits >> 8) * (1.0f / 16777216.0f);

    /// <summary>Uniform in (0, 1], for logarithms.</summary>
    public static float UniformOpenZero(uint bits) => ((bits >> 8) + 1) * (1.0f / 16777216.0f);

    /// <summary>A standard normal from two words by Box–Muller: sqrt(-2 ln u1) cos(2π u2), u1 in (0,1].</summary>
    public static float Normal(uint bits1, uint bits2)
    {
        float u1 = UniformOpenZero(bits1), u2 = Uniform(bits2);
        return MathF.Sqrt(-2f * MathF.Log(u1)) * MathF.Cos(2f * MathF.PI * u2);
    }
}
