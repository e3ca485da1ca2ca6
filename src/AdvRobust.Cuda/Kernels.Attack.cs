namespace AdvRobust.Cuda;

public sealed unsafe partial class Kernels
{
    // ---- attack.cu: one block per sample ----
    private static readonly KernelLaunch AttackTrackF32 = new("attack", "attack_track_f32", BlockSize, 0);
    private static readonly KernelLaunch ApgdStepF32 = new("attack", "apgd_step_f32", BlockSize, 0);
    private static readonly KernelLaunch ApgdScheduleF32 = new("attack", "apgd_schedule_f32", BlockSize, 0);

    /// <summary>targets and bestX may be 0 (none).</summary>
    public void AttackTrack(ulong logits, int k, ulong loss, int m, ulong labels, ulong targets, ulong x, int d,
        ulong bestLoss, ulong bestSuccess, ulong bestSet, ulong current, ulong bestX, ulong pending,
        bool keepHighest, int samples)
    {
        if (samples == 0) return;
        int keep = keepHighest ? 1 : 0;
        void** a = stackalloc void*[]
        {
            &logits, &k, &loss, &m, &labels, &targets, &x, &d, &bestLoss, &bestSuccess, &bestSet, &current, &bestX,
            &pending, &keep,
        };
        Launch(AttackTrackF32, (uint)samples, a);
    }

    public void ApgdStep(ulong x, ulong xOld, ulong x0, ulong g, ulong step, ulong z, float eps, float momentum,
        int d, bool l2, int samples)
    {
        if (samples == 0 || d == 0) return;
        int l2Flag = l2 ? 1 : 0;
        void** a = stackalloc void*[] { &x, &xOld, &x0, &g, &step, &z, &eps, &momentum, &d, &l2Flag };
        Launch(ApgdStepF32, (uint)samples, a);
    }

    public void ApgdSchedule(ulong loss, ulong x, ulong g, ulong xBest, ulong gBest, ulong step, ulong lossBest,
        ulong bestAtCheck, ulong lossPrev, ulong increases, ulong halvedLast, int d, bool checkpoint, int window,
        float rho, int samples)
    {
        if (samples == 0) return;
        int check = checkpoint ? 1 : 0;
        void** a = stackalloc void*[]
        {
            &loss, &x, &g, &xBest, &gBest, &step, &lossBest, &bestAtCheck, &lossPrev, &increases, &halvedLast, &d,
            &check, &window, &rho,
        };
        Launch(ApgdScheduleF32, (uint)samples, a);
    }
}
