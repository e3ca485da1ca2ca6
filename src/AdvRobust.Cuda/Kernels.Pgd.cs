namespace AdvRobust.Cuda;

public sealed unsafe partial class Kernels
{
    // ---- pgd.cu ----
    private static readonly KernelLaunch PgdLinfStepF32 = new("pgd", "pgd_linf_step_f32", BlockSize, 0);
    private static readonly KernelLaunch PgdL2StepF32 = new("pgd", "pgd_l2_step_f32", BlockSize, 0);
    private static readonly KernelLaunch PgdLinfRandomStartF32 = new("pgd", "pgd_linf_random_start_f32", BlockSize, 0);
    private static readonly KernelLaunch PgdL2RandomStartF32 = new("pgd", "pgd_l2_random_start_f32", BlockSize, 0);

    public void PgdLinfStep(ulong x, ulong x0, ulong g, float alpha, float eps, float lo, float hi, long n)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &x0, &g, &alpha, &eps, &lo, &hi, &n };
        Launch(PgdLinfStepF32, GridFor(n), a);
    }

    /// <summary>One block per sample.</summary>
    public void PgdL2Step(ulong x, ulong x0, ulong g, float alpha, float eps, float lo, float hi, int samples, int perSample)
    {
        if (samples == 0 || perSample == 0) return;
        void** a = stackalloc void*[] { &x, &x0, &g, &alpha, &eps, &lo, &hi, &perSample };
        Launch(PgdL2StepF32, (uint)samples, a);
    }

    public void PgdLinfRandomStart(ulong x, ulong x0, float eps, float lo, float hi, long n, int perSample,
        ulong seed, uint stream, uint firstSample, ulong key = 0, ulong ids = 0)
    {
        if (n == 0 || perSample == 0) return;
        void** a = stackalloc void*[]
        {
            &x, &x0, &eps, &lo, &hi, &n, &perSample, &seed, &stream, &firstSample, &key, &ids,
        };
        Launch(PgdLinfRandomStartF32, GridFor(n), a);
    }

    /// <summary>One block per sample.</summary>
    public void PgdL2RandomStart(ulong x, ulong x0, float eps, float lo, float hi, int samples, int perSample,
        ulong seed, uint stream, uint firstSample, ulong key = 0, ulong ids = 0)
    {
        if (samples == 0 || perSample == 0) return;
        void** a = stackalloc void*[] { &x, &x0, &eps, &lo, &hi, &perSample, &seed, &stream, &firstSample, &key, &ids };
        Launch(PgdL2RandomStartF32, (uint)samples, a);
    }
}
