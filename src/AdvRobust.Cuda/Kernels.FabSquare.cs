using AdvRobust.Core;

namespace AdvRobust.Cuda;

public sealed unsafe partial class Kernels
{
    // ---- fab.cu ----
    private const uint FabBlock = 128;
    private static readonly KernelLaunch FabStepF32 = new("fab", "fab_step_f32", FabBlock, 0);
    private static readonly KernelLaunch FabAcceptF32 = new("fab", "fab_accept_f32", FabBlock, 0);

    /// <summary>One block per row.</summary>
    public void FabStep(ulong x, ulong x0, ulong grad, ulong logits, ulong labels, ulong targets, int rows, int d,
        int k, bool l2, float alphaMax, float eta)
    {
        if (rows == 0 || d == 0) return;
        int norm = l2 ? 1 : 0;
        void** a = stackalloc void*[] { &x, &x0, &grad, &logits, &labels, &targets, &d, &k, &norm, &alphaMax, &eta };
        Launch(FabStepF32, (uint)rows, a);
    }

    /// <summary>One block per row.</summary>
    public void FabAccept(ulong x, ulong x0, ulong logits, ulong labels, ulong best, ulong bestNorm, int rows, int d,
        int k, bool l2, float beta)
    {
        if (rows == 0 || d == 0) return;
        int norm = l2 ? 1 : 0;
        void** a = stackalloc void*[] { &x, &x0, &logits, &labels, &best, &bestNorm, &d, &k, &norm, &beta };
        Launch(FabAcceptF32, (uint)rows, a);
    }

    // ---- square.cu ----
    private static readonly KernelLaunch SquareLinfCandidatesF32 =
        new("square", "square_linf_candidates_f32", BlockSize, 0);
    private static readonly KernelLaunch SquareL2CandidatesF32 =
        new("square", "square_l2_candidates_f32", BlockSize, 0);
    private static readonly KernelLaunch SquareAcceptF32 = new("square", "square_accept_f32", BlockSize, 0);

    /// <summary>Grid-stride over every pixel (l-inf), or one block per row (l2). With a counter (a device Int32, not
    /// 0) the query index is read from it and the side follows the schedule; s and query are then unused.</summary>
    public void SquareCandidates(bool l2, ulong x0, ulong best, ulong marginMin, ulong ids, ulong cand, int rows,
        int c, int h, int w, int s, float eps, ulong seed, uint stream, int query, ulong counter,
        SquareSchedule schedule)
    {
        long n = (long)rows * c * h * w;
        if (n == 0) return;
        float pInit = schedule.PInit;
        int queries = schedule.Queries, rescale = schedule.Rescale ? 1 : 0;
        if (l2)
        {
            void** a = stackalloc void*[] { &x0, &best, &marginMin, &ids, &cand, &c, &h, &w, &s, &eps, &seed,
                &stream, &query, &counter, &pInit, &queries, &rescale };
            Launch(SquareL2CandidatesF32, (uint)rows, a);
        }
        else
        {
            void** a = stackalloc void*[] { &x0, &best, &marginMin, &ids, &cand, &c, &h, &w, &s, &eps, &seed,
                &stream, &query, &counter, &pInit, &queries, &rescale, &n };
            Launch(SquareLinfCandidatesF32, GridFor(n), a);
        }
    }

    /// <summary>One block per row; block 0 advances the query counter when there is one (not 0).</summary>
    public void SquareAccept(ulong logits, ulong labels, ulong cand, ulong best, ulong marginMin, ulong lossMin,
        ulong counter, int rows, int k, int d)
    {
        if (rows == 0) return;
        void** a = stackalloc void*[] { &logits, &labels, &cand, &best, &marginMin, &lossMin, &counter, &k, &d };
        Launch(SquareAcceptF32, (uint)rows, a);
    }
}
