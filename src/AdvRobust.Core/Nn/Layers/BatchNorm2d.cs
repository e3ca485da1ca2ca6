using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>
/// Batch norm over the channel axis of N×C×H×W (PyTorch's BatchNorm2d, affine, tracking running statistics).
/// Parameters "weight" (γ, init 1) and "bias" (β, init 0); buffers "running_mean" (init 0), "running_var" (init 1)
/// and "num_batches_tracked" (init 0). Training mode normalizes with batch statistics and updates the running ones
/// (<see cref="BatchNormParams"/>); eval mode uses the running statistics, so each sample's output is independent of
/// the rest of its batch.
/// num_batches_tracked is a rank-0 tensor like PyTorch's; it is held as Float32 so that a training step can count on
/// the device without a host round trip (exact up to 2^24 = 16,777,216 batches), and checkpoints store it as I64.
/// Nothing reads it: the running statistics use the fixed momentum, never a cumulative average.
/// In eval mode the per-channel scale and shift are cached (<see cref="BatchNormEvalCache"/>) and recomputed only when
/// γ, β or the running statistics were written, so an eval forward is a single channel-affine launch.
/// </summary>
public sealed class BatchNorm2d : Layer
{
    private readonly Tensor _one;
    private BatchNormEvalCache? _eval;
    private FoldedConv? _fold;

    public BatchNorm2d(ParameterInit init, int channels, BatchNormParams? p = null)
    {
        if (channels < 1) throw new ArgumentException($"BatchNorm2d needs at least one channel, got {channels}");
        Channels = channels;
        Params = p ?? new BatchNormParams();
        Weight = RegisterParameter("weight", init.Constant(1f, channels));
        Bias = RegisterParameter("bias", init.Constant(0f, channels));
        RunningMean = RegisterBuffer("running_mean", init.Constant(0f, channels));
        RunningVar = RegisterBuffer("running_var", init.Constant(1f, channels));
        NumBatchesTracked = RegisterBuffer("num_batches_tracked", init.Constant(0f));
        _one = init.Constant(1f);
    }

    public int Channels { get; }
    public BatchNormParams Params { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }
    public Tensor RunningMean { get; }
    public Tensor RunningVar { get; }

    /// <summary>
    /// When set, training mode normalizes with the statistics of the global batch that every participant of the sync
    /// holds a shard of (synchronized batch norm, <see cref="F.BatchNormSynced"/>); null (the default): this batch's.
    /// </summary>
    public IBatchNormSync? Sync { get; set; }

    /// <summary>Training forward passes so far (rank 0, Float32 in memory, I64 in checkpoints).</summary>
    public Tensor NumBatchesTracked { get; }

    /// <summary>How many times the eval-mode constants were computed so far (0 before the first eval pass).</summary>
    public int EvalConstantComputations => _eval?.Computations ?? 0;

    public override Variable Forward(Tape tape, Variable x)
    {
        if (!Training)
        {
            _eval ??= new BatchNormEvalCache(Weight.Value.Backend, Channels);
            _eval.Refresh(Params, Weight.Value, Bias.Value, RunningMean, RunningVar);
            return F.BatchNormEval(tape, x, tape.Param(Weight), tape.Param(Bias), Params, _eval.Scale, _eval.Shift,
                _eval.InvStd, _eval.XhatShift);
        }
        var y = Sync is { } sync
            ? F.BatchNormSynced(tape, x, tape.Param(Weight), tape.Param(Bias), RunningMean, RunningVar, Params, sync)
            : F.BatchNorm(tape, x, tape.Param(Weight), tape.Param(Bias), RunningMean, RunningVar, true, Params);
        Ops.Axpby(1f, _one, 1f, NumBatchesTracked);
        return y;
    }

    /// <summary>How many times a folded convolution weight was computed (<see cref="ForwardReluAfter"/>).</summary>
    public int FoldComputations => _fold?.Computations ?? 0;

    /// <summary>
    /// relu(this(conv(x))). Where nothing needs the parameters' gradients and the backend captures no graphs (eval mode,
    /// a tape without parameter gradients, i.e. an attack or an evaluation; a bias-free conv; the CPU), as one fused
    /// convolution with the batch norm folded in: relu(conv(x, W·scale) + shift) (<see cref="FoldedConv"/>,
    /// <see cref="F.Conv2dBiasRelu"/>): three launches forward and two backward become one and one, and the result
    /// differs from the chain's only by rounding (W·scale is rounded once). Elsewhere the chain itself. Not on a backend
    /// with graphs: a captured step replays the fused op with the W' of its capture, and nothing there would refold it
    /// after the SGD update.
    /// </summary>
    public Variable ForwardReluAfter(Tape tape, Conv2d conv, Variable x)
    {
        if (Training || tape.ParameterGradients || conv.Bias is not null || tape.Backend.GraphCapture is not null)
            return F.Relu(tape, Forward(tape, conv.Forward(tape, x)));
        _eval ??= new BatchNormEvalCache(Weight.Value.Backend, Channels);
        _eval.Refresh(Params, Weight.Value, Bias.Value, RunningMean, RunningVar);
        _fold ??= new FoldedConv(conv.Weight.Value);
        _fold.Refresh(conv.Weight.Value, _eval.Scale, _eval.Shift);
        return F.Conv2dBiasRelu(tape, x, tape.Constant(_fold.Weight), tape.Constant(_eval.Shift),
            conv.Params with { ConstantWeight = true });
    }

    public override void Dispose()
    {
        _one.Dispose();
        _eval?.Dispose();
        _fold?.Dispose();
        base.Dispose();
    }
}
