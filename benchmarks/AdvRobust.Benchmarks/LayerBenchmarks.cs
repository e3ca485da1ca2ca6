using AdvRobust.Benchmarks.Support;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using BenchmarkDotNet.Attributes;

namespace AdvRobust.Benchmarks;

/// <summary>
/// The layers a ResNet-18 attack step spends its time in, one op (or one forward + backward pair) per method, on the
/// shapes of ResNet-18's first stage on CIFAR: x is N×C×H×W = N×64×32×32.
/// Conv (3×3, C = K = 64, pad 1, stride 1, so P×Q = H×W; cuDNN on cuda, im2col + SGEMM on cpu): ConvForward
/// y = conv(x, w), ConvBackwardData dx = convᵀ(dy, w), ConvBackwardFilter dw = Σ x ⋆ dy. FLOPs, each of the three:
/// 2·N·K·C·R·S·P·Q. ConvBiasReluForward: y = relu(conv(x, w) + b), one cuDNN call (the three steps on cpu); the
/// same FLOPs, so its row against ConvForward shows what the fused epilogue costs.
/// BatchNormTrain: batch-norm training forward (batch statistics, running-stat update) then backward (dx, dγ, dβ),
/// per channel of N·H·W values. Compulsory traffic per element: forward reads x, writes y (8 B); backward reads x
/// and dy, writes dx (12 B); 20 B in all (per-channel vectors are negligible).
/// SoftmaxCrossEntropy: CE forward (loss, probabilities) then backward (dz) on R rows of K = 1000 logits. Compulsory
/// traffic: forward reads z, writes p; backward reads p, writes dz = 16 B per logit, plus per row the label and the
/// loss (forward) and the label and dloss (backward) = 16 B. (kernels/loss.cu counts the issued traffic, 24 B per
/// logit, since its forward reads each row 3×; a 4 KB row is re-read from cache, so the compulsory count is the one
/// that compares with the copy ceiling, as PgdStepBenchmarks does.)
/// Batch: 128 images and R = 16384 on cuda; 16 images and R = 2048 on cpu, to keep a --job short run quick.
/// </summary>
public class LayerBenchmarks : OpBenchmark
{
    public const int Channels = 64, Side = 32, Kernel = 3, Classes = 1000;

    private static readonly ConvParams _conv = new(Stride: 1, Padding: 1);
    private static readonly BatchNormParams _bn = new();
    private Tensor _x = null!, _w = null!, _b = null!, _y = null!, _dy = null!, _dx = null!, _dw = null!;
    private Tensor _gamma = null!, _beta = null!, _runMean = null!, _runVar = null!, _mean = null!, _invStd = null!;
    private Tensor _dgamma = null!, _dbeta = null!;
    private Tensor _logits = null!, _labels = null!, _loss = null!, _probs = null!, _dloss = null!, _dlogits = null!;

    [ParamsSource(nameof(Sizes))]
    public LayerSize Size { get; set; } = new(16, 2048, Targets.Cpu);

    public static IEnumerable<LayerSize> Sizes => [new(16, 2048, Targets.Cpu), new(128, 16384, Targets.Cuda)];

    [Benchmark]
    public void ConvForward() => LaunchAndWait(Forward);

    [Benchmark]
    public void ConvBiasReluForward() => LaunchAndWait(ForwardBiasRelu);

    [Benchmark]
    public void ConvBackwardData() => LaunchAndWait(BackwardData);

    [Benchmark]
    public void ConvBackwardFilter() => LaunchAndWait(BackwardFilter);

    [Benchmark]
    public void BatchNormTrain() => LaunchAndWait(BatchNorm);

    [Benchmark]
    public void SoftmaxCrossEntropy() => LaunchAndWait(CrossEntropy);

    protected override void Allocate()
    {
        int[] map = [Size.Batch, Channels, Side, Side];
        _x = Uniform(11, -1f, 1f, map);
        _dy = Uniform(12, -1f, 1f, map);
        _w = Uniform(13, -0.1f, 0.1f, Channels, Channels, Kernel, Kernel);
        _b = Uniform(21, -0.1f, 0.1f, Channels);
        _y = Empty(DType.Float32, map);
        _dx = Empty(DType.Float32, map);
        _dw = Empty(DType.Float32, Channels, Channels, Kernel, Kernel);
        _gamma = Uniform(14, 0.5f, 1.5f, Channels);
        _beta = Uniform(15, -0.5f, 0.5f, Channels);
        _runMean = Uniform(16, 0f, 0f, Channels);
        _runVar = Uniform(17, 1f, 1f, Channels);
        (_mean, _invStd) = (Empty(DType.Float32, Channels), Empty(DType.Float32, Channels));
        (_dgamma, _dbeta) = (Empty(DType.Float32, Channels), Empty(DType.Float32, Channels));
        _logits = Uniform(18, -5f, 5f, Size.Rows, Classes);
        _labels = Labels(19, Classes, Size.Rows);
        _loss = Empty(DType.Float32, Size.Rows);
        _probs = Empty(DType.Float32, Size.Rows, Classes);
        _dloss = Uniform(20, 1f / Size.Rows, 1f / Size.Rows, Size.Rows);
        _dlogits = Empty(DType.Float32, Size.Rows, Classes);
    }

    protected override IEnumerable<BenchOp> Launches()
    {
        long pixels = (long)Size.Batch * Side * Side; // N·P·Q
        var convFlops = Work.Flops(2.0 * pixels * Channels * Channels * Kernel * Kernel);
        long elements = pixels * Channels;
        long logits = (long)Size.Rows * Classes;
        return
        [
            new(nameof(ConvForward), convFlops, Forward),
            new(nameof(ConvBiasReluForward), convFlops, ForwardBiasRelu),
            new(nameof(ConvBackwardData), convFlops, BackwardData),
            new(nameof(ConvBackwardFilter), convFlops, BackwardFilter),
            new(nameof(BatchNormTrain), Work.Bytes(20.0 * elements), BatchNorm),
            new(nameof(SoftmaxCrossEntropy), Work.Bytes(16.0 * logits + 16.0 * Size.Rows), CrossEntropy),
        ];
    }

    private void Forward() => Ops.Conv2dForward(_conv, _x, _w, _y);

    private void ForwardBiasRelu() => Ops.Conv2dBiasReluForward(_conv, _x, _w, _b, _y);

    private void BackwardData() => Ops.Conv2dBackwardData(_conv, _dy, _w, _dx);

    private void BackwardFilter() => Ops.Conv2dBackwardFilter(_conv, _x, _dy, _dw);

    private void BatchNorm()
    {
        Ops.BatchNormForward(_bn, _x, _gamma, _beta, _runMean, _runVar, _y, _mean, _invStd);
        Ops.BatchNormBackward(_bn, _x, _dy, _gamma, _mean, _invStd, _dx, _dgamma, _dbeta);
    }

    private void CrossEntropy()
    {
        Ops.SoftmaxCrossEntropy(_logits, _labels, 0f, _loss, _probs);
        Ops.SoftmaxCrossEntropyBackward(_probs, _labels, 0f, _dloss, _dlogits);
    }

    /// <summary>Batch images of 64×32×32 for conv and batch norm; Rows logit rows of 1000 classes for the loss.</summary>
    public sealed record LayerSize(int Batch, int Rows, Targets Targets) : IShape
    {
        public override string ToString() => $"b{Batch} ce{Rows}x{Classes}";
    }
}
