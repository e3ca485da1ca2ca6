namespace AdvRobust.Cuda;

public sealed unsafe partial class Kernels
{
    // ---- pgd.cu ----
    public void PgdLinfStep(ulong x, ulong x0, ulong g, float alpha, float eps, float lo, float hi, long n)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &x0, &g, &alpha, &eps, &lo, &hi, &n };
        Launch("pgd", "pgd_linf_step_f32", GridFor(n), BlockSize, 0, a);
    }

    /// <summary>One block per sample.</summary>
    public void PgdL2Step(ulong x, ulong x0, ulong g, float alpha, float eps, float lo, float hi, int samples, int perSample)
    {
        if (samples == 0 || perSample == 0) return;
        void** a = stackalloc void*[] { &x, &x0, &g, &alpha, &eps, &lo, &hi, &perSample };
        Launch("pgd", "pgd_l2_step_f32", (uint)samples, BlockSize, 0, a);
    }

    public void PgdLinfRandomStart(ulong x, ulong x0, float eps, float lo, float hi, long n, int perSample,
        ulong seed, uint stream, uint firstSample)
    {
        if (n == 0 || perSample == 0) return;
        void** a = stackalloc void*[] { &x, &x0, &eps, &lo, &hi, &n, &perSample, &seed, &stream, &firstSample };
        Launch("pgd", "pgd_linf_random_start_f32", GridFor(n), BlockSize, 0, a);
    }

    /// <summary>One block per sample.</summary>
    public void PgdL2RandomStart(ulong x, ulong x0, float eps, float lo, float hi, int samples, int perSample,
        ulong seed, uint stream, uint firstSample)
    {
        if (samples == 0 || perSample == 0) return;
        void** a = stackalloc void*[] { &x, &x0, &eps, &lo, &hi, &perSample, &seed, &stream, &firstSample };
        Launch("pgd", "pgd_l2_random_start_f32", (uint)samples, BlockSize, 0, a);
    }
}
