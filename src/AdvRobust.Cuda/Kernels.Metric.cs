namespace AdvRobust.Cuda;

public sealed unsafe partial class Kernels
{
    /// <summary>Anchors per block of triplet_mine_f32: must equal TRIPLET_TILE_N in kernels/triplet.cu.</summary>
    public const int TripletTileN = 64;

    /// <summary>Threads per block of triplet_mine_f32: must equal TRIPLET_THREADS in kernels/triplet.cu.</summary>
    public const uint TripletThreads = 256;

    /// <summary>Rows per block of the warp-per-row triplet loss kernels (blockDim 256 = 8 warps).</summary>
    private const int RowsPerBlock = 8;

    // ---- distance.cu ----
    private static readonly KernelLaunch DistanceEpilogueF32 = new("distance", "distance_epilogue_f32", BlockSize, 0);
    private static readonly KernelLaunch DistanceBackwardWeightsF32 =
        new("distance", "distance_backward_weights_f32", BlockSize, 0);
    private static readonly KernelLaunch DistanceBackwardFinishF32 =
        new("distance", "distance_backward_finish_f32", BlockSize, 0);

    public void DistanceEpilogue(ulong dot, ulong na2, ulong nb2, ulong output, int n, int m, int kind)
    {
        if ((long)n * m == 0) return;
        void** a = stackalloc void*[] { &dot, &na2, &nb2, &output, &n, &m, &kind };
        Launch(DistanceEpilogueF32, GridFor((long)n * m), a);
    }

    public void DistanceBackwardWeights(ulong grad, ulong w, ulong p, ulong na2, ulong nb2, int n, int m, int kind)
    {
        if ((long)n * m == 0) return;
        void** a = stackalloc void*[] { &grad, &w, &p, &na2, &nb2, &n, &m, &kind };
        Launch(DistanceBackwardWeightsF32, GridFor((long)n * m), a);
    }

    public void DistanceBackwardFinish(ulong gradX, ulong x, ulong sumP, ulong nx2, int rows, int d, int kind)
    {
        if ((long)rows * d == 0) return;
        void** a = stackalloc void*[] { &gradX, &x, &sumP, &nx2, &rows, &d, &kind };
        Launch(DistanceBackwardFinishF32, GridFor((long)rows * d), a);
    }

    // ---- triplet.cu ----
    private static readonly KernelLaunch TripletMineF32 = new("triplet", "triplet_mine_f32", TripletThreads, 0);
    private static readonly KernelLaunch TripletLossForwardF32 =
        new("triplet", "triplet_loss_forward_f32", BlockSize, 0);
    private static readonly KernelLaunch TripletLossBackwardF32 =
        new("triplet", "triplet_loss_backward_f32", BlockSize, 0);

    public void TripletMine(ulong anchors, ulong anchorLabels, ulong pool, ulong poolLabels, ulong na2, ulong np2,
        int n, int m, int d, int kind, int mode, int excludeSelf,
        ulong posIndex, ulong posDist, ulong negIndex, ulong negDist)
    {
        if (n == 0) return;
        void** a = stackalloc void*[]
        {
            &anchors, &anchorLabels, &pool, &poolLabels, &na2, &np2, &n, &m, &d, &kind, &mode, &excludeSelf,
            &posIndex, &posDist, &negIndex, &negDist,
        };
        Launch(TripletMineF32, (uint)((n + TripletTileN - 1) / TripletTileN), a);
    }

    public void TripletLossForward(ulong anchors, ulong pos, ulong neg, ulong loss, int n, int d, int kind, float margin)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &anchors, &pos, &neg, &loss, &n, &d, &kind, &margin };
        Launch(TripletLossForwardF32, (uint)((n + RowsPerBlock - 1) / RowsPerBlock), a);
    }

    public void TripletLossBackward(ulong anchors, ulong pos, ulong neg, ulong gradLoss, ulong gradA, ulong gradP,
        ulong gradN, int n, int d, int kind, float margin)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &anchors, &pos, &neg, &gradLoss, &gradA, &gradP, &gradN, &n, &d, &kind, &margin };
        Launch(TripletLossBackwardF32, (uint)((n + RowsPerBlock - 1) / RowsPerBlock), a);
    }
}
