using AdvRobust.Core.Tensors;
using AdvRobust.Research.Training;

namespace AdvRobust.Research.Certification;

/// <summary>
/// Gaussian noise augmentation, the training half of randomized smoothing (Cohen et al. 2019 train the base
/// classifier on x + δ, δ ~ N(0, σ²I), with the σ they certify at). A building block for a training objective: it turns
/// a batch into a noisy copy keyed by (seed, stream, global sample id), so a sample's noise does not depend on the
/// batch it lands in, and a resumed run draws the same noise. No clamping to [0, 1], as in Cohen's train.py.
/// </summary>
public static class GaussianAugmentation
{
    /// <summary>
    /// A new tensor x + σ·N(0, I) for a training step, owned by the caller: noise keyed by the run's seed, stream = the
    /// epoch (each sample occurs once per epoch, so (epoch, id) never repeats) and the batch's sample ids.
    /// </summary>
    public static Tensor Noisy(TrainingBatch batch, float sigma)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Epoch < 0) throw new ArgumentException($"epoch must be >= 0, got {batch.Epoch}");
        if (batch.Device is { } device)
        {
            // the same draws, keyed from the device: (seed, epoch, first sample 0) and row s = sample ids[s]
            var y = Tensor.Empty(batch.X.Backend, DType.Float32, batch.X.Shape.Dims.ToArray());
            try
            {
                Ops.GaussianNoise(batch.X, y, sigma, device.EpochKey, device.SampleIds);
                return y;
            }
            catch
            {
                y.Dispose();
                throw;
            }
        }
        return Noisy(batch.X, sigma, batch.Seed, (uint)batch.Epoch, batch.SampleIds);
    }

    /// <summary>
    /// A new tensor x + σ·N(0, I) (x N×...), row s keyed by global sample <c>sampleIds[s]</c>: one launch with a
    /// first-sample offset when the ids are consecutive, else one launch with the ids copied to the device.
    /// </summary>
    public static Tensor Noisy(Tensor x, float sigma, ulong seed, uint stream, uint[] sampleIds)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(sampleIds);
        if (x.Rank < 1 || sampleIds.Length != x.Shape[0])
            throw new ArgumentException($"{sampleIds.Length} sample ids for a batch of shape {x.Shape}");
        var y = Tensor.Empty(x.Backend, DType.Float32, x.Shape.Dims.ToArray());
        try
        {
            if (IsRange(sampleIds))
                Ops.GaussianNoise(x, y, sigma, seed, stream, sampleIds.Length == 0 ? 0 : sampleIds[0]);
            else
            {
                int[] ids = sampleIds.Select(id => unchecked((int)id)).ToArray();
                using var deviceIds = Tensor.FromArray(x.Backend, ids, ids.Length);
                Ops.GaussianNoise(x, y, sigma, seed, stream, deviceIds);
            }
            return y;
        }
        catch
        {
            y.Dispose();
            throw;
        }
    }

    private static bool IsRange(uint[] ids)
    {
        for (int i = 1; i < ids.Length; i++) if (ids[i] != ids[i - 1] + 1) return false;
        return true;
    }
}
