namespace AdvRobust.Cuda;

// Launchers for kernels/pool.cu, channel.cu, loss.cu, optim.cu and augment.cu, in each kernel's parameter order.
// Shape letters: planes = N·C image planes of H×W, pooled to P×Q; logits N×K; inner = elements per (sample, channel).
public sealed unsafe partial class Kernels
{
    /// <summary>Rows per block of the warp-per-row loss kernels: LOSS_ROWS_PER_BLOCK in kernels/loss.cu.</summary>
    public const int LossRowsPerBlock = 8;

    /// <summary>Threads per block of channel_sum_f32: CHANNEL_SUM_THREADS in kernels/channel.cu.</summary>
    public const uint ChannelSumThreads = 256;

    // ---- pool.cu ----
    private static readonly KernelLaunch Maxpool2dForwardF32 = new("pool", "maxpool2d_forward_f32", BlockSize, 0);
    private static readonly KernelLaunch Maxpool2dBackwardF32 = new("pool", "maxpool2d_backward_f32", BlockSize, 0);
    private static readonly KernelLaunch Avgpool2dForwardF32 = new("pool", "avgpool2d_forward_f32", BlockSize, 0);
    private static readonly KernelLaunch Avgpool2dBackwardF32 = new("pool", "avgpool2d_backward_f32", BlockSize, 0);

    public void MaxPool2dForward(ulong x, ulong y, int planes, int h, int w, int p, int q, int kernel, int stride,
        int pad)
    {
        long n = (long)planes * p * q;
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &planes, &h, &w, &p, &q, &kernel, &stride, &pad };
        Launch(Maxpool2dForwardF32, GridFor(n), a);
    }

    public void MaxPool2dBackward(ulong x, ulong dy, ulong dx, int planes, int h, int w, int p, int q, int kernel,
        int stride, int pad)
    {
        long n = (long)planes * h * w;
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &dy, &dx, &planes, &h, &w, &p, &q, &kernel, &stride, &pad };
        Launch(Maxpool2dBackwardF32, GridFor(n), a);
    }

    public void AvgPool2dForward(ulong x, ulong y, int planes, int h, int w, int p, int q, int kernel, int stride,
        int pad)
    {
        long n = (long)planes * p * q;
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &y, &planes, &h, &w, &p, &q, &kernel, &stride, &pad };
        Launch(Avgpool2dForwardF32, GridFor(n), a);
    }

    public void AvgPool2dBackward(ulong dy, ulong dx, int planes, int h, int w, int p, int q, int kernel, int stride,
        int pad)
    {
        long n = (long)planes * h * w;
        if (n == 0) return;
        void** a = stackalloc void*[] { &dy, &dx, &planes, &h, &w, &p, &q, &kernel, &stride, &pad };
        Launch(Avgpool2dBackwardF32, GridFor(n), a);
    }

    // ---- channel.cu ----
    private static readonly KernelLaunch ChannelAffineF32 = new("channel", "channel_affine_f32", BlockSize, 0);
    private static readonly KernelLaunch ChannelSumF32 = new("channel", "channel_sum_f32", ChannelSumThreads, 0);
    private static readonly KernelLaunch ChannelFillF32 = new("channel", "channel_fill_f32", BlockSize, 0);

    /// <summary>scale or shift 0 (a null pointer) means 1 or 0.</summary>
    public void ChannelAffine(ulong x, ulong scale, ulong shift, ulong y, long n, int channels, int inner)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &x, &scale, &shift, &y, &n, &channels, &inner };
        Launch(ChannelAffineF32, GridFor(n), a);
    }

    /// <summary>y[n, c, j] = value[c] over y's n elements.</summary>
    public void ChannelFill(ulong value, ulong y, long n, int channels, int inner)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &value, &y, &n, &channels, &inner };
        Launch(ChannelFillF32, GridFor(n), a);
    }

    /// <summary>One block per channel of exactly <see cref="ChannelSumThreads"/> threads (fixed sum order).</summary>
    public void ChannelSum(ulong x, ulong y, int batch, int channels, int inner)
    {
        if (channels == 0) return;
        void** a = stackalloc void*[] { &x, &y, &batch, &channels, &inner };
        Launch(ChannelSumF32, (uint)channels, a);
    }

    // ---- loss.cu ----
    private static readonly KernelLaunch SoftmaxCrossEntropyForwardF32 =
        new("loss", "softmax_cross_entropy_forward_f32", BlockSize, 0);
    private static readonly KernelLaunch SoftmaxCrossEntropyBackwardF32 =
        new("loss", "softmax_cross_entropy_backward_f32", BlockSize, 0);
    private static readonly KernelLaunch LogSoftmaxForwardF32 = new("loss", "log_softmax_forward_f32", BlockSize, 0);
    private static readonly KernelLaunch LogSoftmaxBackwardF32 = new("loss", "log_softmax_backward_f32", BlockSize, 0);
    private static readonly KernelLaunch MarginLossForwardF32 = new("loss", "margin_loss_forward_f32", BlockSize, 0);
    private static readonly KernelLaunch MarginLossBackwardF32 = new("loss", "margin_loss_backward_f32", BlockSize, 0);

    public void SoftmaxCrossEntropyForward(ulong logits, ulong labels, ulong loss, ulong probs, int n, int k,
        float smoothing)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &logits, &labels, &loss, &probs, &n, &k, &smoothing };
        Launch(SoftmaxCrossEntropyForwardF32, LossBlocks(n), a);
    }

    public void SoftmaxCrossEntropyBackward(ulong probs, ulong labels, ulong gradLoss, ulong gradLogits, int n, int k,
        float smoothing)
    {
        long total = (long)n * k;
        if (total == 0) return;
        void** a = stackalloc void*[] { &probs, &labels, &gradLoss, &gradLogits, &n, &k, &smoothing };
        Launch(SoftmaxCrossEntropyBackwardF32, GridFor(total), a);
    }

    public void LogSoftmaxForward(ulong x, ulong y, int n, int k)
    {
        if ((long)n * k == 0) return;
        void** a = stackalloc void*[] { &x, &y, &n, &k };
        Launch(LogSoftmaxForwardF32, LossBlocks(n), a);
    }

    public void LogSoftmaxBackward(ulong y, ulong dy, ulong dx, int n, int k)
    {
        if ((long)n * k == 0) return;
        void** a = stackalloc void*[] { &y, &dy, &dx, &n, &k };
        Launch(LogSoftmaxBackwardF32, LossBlocks(n), a);
    }

    /// <summary>One thread per row; targets 0 (null) unless kind is targeted DLR.</summary>
    public void MarginLossForward(ulong logits, ulong labels, ulong targets, ulong loss, int n, int k, int kind)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &logits, &labels, &targets, &loss, &n, &k, &kind };
        Launch(MarginLossForwardF32, GridFor(n), a);
    }

    public void MarginLossBackward(ulong logits, ulong labels, ulong targets, ulong gradLoss, ulong gradLogits, int n,
        int k, int kind)
    {
        if (n == 0) return;
        void** a = stackalloc void*[] { &logits, &labels, &targets, &gradLoss, &gradLogits, &n, &k, &kind };
        Launch(MarginLossBackwardF32, GridFor(n), a);
    }

    // ---- optim.cu ----
    private static readonly KernelLaunch SgdStepF32 = new("optim", "sgd_step_f32", BlockSize, 0);

    /// <summary><paramref name="lrDevice"/>: a float in device memory read for lr, or 0 to use lr.</summary>
    public void SgdStep(ulong param, ulong grad, ulong momentum, float lr, float mom, float wd, bool nesterov, long n,
        ulong lrDevice = 0)
    {
        if (n == 0) return;
        int nest = nesterov ? 1 : 0;
        void** a = stackalloc void*[] { &param, &grad, &momentum, &lr, &mom, &wd, &nest, &n, &lrDevice };
        Launch(SgdStepF32, GridFor(n), a);
    }

    // ---- augment.cu ----
    private static readonly KernelLaunch RandomCropFlipF32 = new("augment", "random_crop_flip_f32", BlockSize, 0);

    public void RandomCropFlip(ulong x, ulong y, int samples, int channels, int h, int w, int pad, bool flip,
        ulong seed, uint stream, uint firstSample, ulong key = 0)
    {
        long n = (long)samples * channels * h * w;
        if (n == 0) return;
        int doFlip = flip ? 1 : 0;
        void** a = stackalloc void*[]
        {
            &x, &y, &samples, &channels, &h, &w, &pad, &doFlip, &seed, &stream, &firstSample, &key,
        };
        Launch(RandomCropFlipF32, GridFor(n), a);
    }

    private static uint LossBlocks(int rows) => (uint)((rows + LossRowsPerBlock - 1) / LossRowsPerBlock);
}
