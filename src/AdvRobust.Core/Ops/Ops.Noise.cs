using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

public static partial class Ops
{
    /// <summary>
    /// y = x + sigma·z with z standard normal per element (randomized smoothing, Gaussian noise augmentation). Row s of
    /// y (N×...) is the global sample firstSample + s, and element k of it draws
    /// z = Normal(r.X0, r.X1), r = Philox.Draw(seed, stream, Philox.PurposeNoise, firstSample + s, k) (Box–Muller), so a
    /// sample's noise does not depend on the batch it is in or on launch geometry. x has y's shape (in place is fine),
    /// or a single row that every row of y is a noisy copy of: that is how certification turns one image into a batch
    /// of N noisy copies on the device. No clamping to [0, 1] (Cohen et al. 2019 classify the raw x + δ).
    /// </summary>
    public static void GaussianNoise(Tensor x, Tensor y, float sigma, ulong seed, uint stream = 0, uint firstSample = 0)
    {
        const string op = nameof(GaussianNoise);
        var backend = CheckNoise(op, x, y, sigma);
        Require(y.Shape[0] == 0 || (long)firstSample + y.Shape[0] - 1 <= uint.MaxValue, op, "sample index passes 2^32");
        backend.GaussianNoise(x, y, sigma, seed, stream, firstSample, null);
    }

    /// <summary>
    /// As above, but row s of y is the global sample <c>(uint)sampleIds[s]</c>: an Int32 tensor of N ids read as
    /// unsigned 32-bit (cast a uint id with <c>unchecked((int)id)</c>), for a shuffled training batch whose ids are
    /// not consecutive. The noise of id g is the same as row g − firstSample of a consecutive call.
    /// </summary>
    public static void GaussianNoise(Tensor x, Tensor y, float sigma, ulong seed, uint stream, Tensor sampleIds)
    {
        const string op = nameof(GaussianNoise);
        var backend = CheckNoise(op, x, y, sigma);
        SameBackend(op, y, sampleIds);
        Require(sampleIds.DType == DType.Int32, op, $"sampleIds must be Int32, got {sampleIds.DType}");
        RequireShape(op, sampleIds, new Shape(y.Shape[0]));
        backend.GaussianNoise(x, y, sigma, seed, stream, 0, sampleIds);
    }

    private static IBackend CheckNoise(string op, Tensor x, Tensor y, float sigma)
    {
        var backend = SameBackend(op, x, y);
        RequireF32(op, x);
        RequireF32(op, y);
        Require(x.Rank >= 1 && y.Rank >= 1, op, "x and y need a batch axis");
        Require(x.Rank == y.Rank && x.Shape.Dims[1..].SequenceEqual(y.Shape.Dims[1..])
                && (x.Shape[0] == y.Shape[0] || x.Shape[0] == 1), op,
            $"x {x.Shape} must have y's shape {y.Shape} or be one row of it");
        Require(x.Shape[0] == y.Shape[0] || !ReferenceEquals(x.Storage, y.Storage), op,
            "a replicated x must not share storage with y");
        Require(float.IsFinite(sigma) && sigma >= 0, op, $"sigma must be finite and >= 0, got {sigma}");
        return backend;
    }
}
