namespace AdvRobust.Cuda;

public sealed unsafe partial class Kernels
{
    // ---- noise.cu ----
    private static readonly KernelLaunch GaussianNoiseF32 = new("noise", "gaussian_noise_f32", BlockSize, 0);

    /// <summary>Grid-stride over the N·perSample outputs; <paramref name="ids"/> is 0 for consecutive samples.</summary>
    public void GaussianNoise(ulong x, ulong y, ulong ids, float sigma, int samples, int perSample, int xRows,
        ulong seed, uint stream, uint firstSample, ulong key = 0)
    {
        long n = (long)samples * perSample;
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &ids, &sigma, &n, &perSample, &xRows, &seed, &stream, &firstSample, &key };
        Launch(GaussianNoiseF32, GridFor(n), a);
    }
}
