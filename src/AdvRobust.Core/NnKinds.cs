namespace AdvRobust.Core;

/// <summary>Stride and zero padding of a square-kernel 2-D convolution (no dilation, no groups).</summary>
public readonly record struct ConvParams(int Stride = 1, int Padding = 0)
{
    // A struct's `new()` would otherwise zero every field instead of using the defaults above.
    public ConvParams() : this(1, 0)
    {
    }

    public int OutSize(int input, int kernel) => (input + 2 * Padding - kernel) / Stride + 1;

    /// <summary>
    /// The caller's promise that the weight changes only through writes that move its <see cref="Tensors.Storage.Version"/>
    /// (the <see cref="Ops"/> façade, CopyIn, <see cref="Nn.Module.MarkStateWritten"/>), so a backend may keep what it
    /// derives from the weight (the CPU's packed GEMM panels and Winograd filter transforms) until the version moves.
    /// <see cref="Nn.Layers.Conv2d"/> sets it where no parameter gradient is taken (attacks, evaluation: the weight is
    /// the model's, constant within the pass and between SGD steps). The kept forms give the bits of fresh ones, but a
    /// backend may pick another algorithm where keeping them pays (the CPU: Winograd on 8×8 and 4×4 planes, whose
    /// results differ from im2col's by rounding). A raw write into such a weight (a span, a kernel of one's own) must
    /// call MarkWritten.
    /// </summary>
    public bool ConstantWeight { get; init; }
}

public enum PoolKind { Max, Avg }

/// <summary>Square pooling window. Average pooling counts padded zeros (PyTorch's count_include_pad = true);
/// max pooling ignores padding. Global average pooling is Avg with Kernel = Stride = H (= W).</summary>
public readonly record struct PoolParams(PoolKind Kind, int Kernel, int Stride, int Padding = 0)
{
    public int OutSize(int input) => (input + 2 * Padding - Kernel) / Stride + 1;
}

/// <summary>PyTorch's BatchNorm2d defaults: running = (1 − momentum)·running + momentum·batch, running variance unbiased.</summary>
public readonly record struct BatchNormParams(float Epsilon = 1e-5f, float Momentum = 0.1f)
{
    // A struct's `new()` would otherwise zero every field instead of using the defaults above.
    public BatchNormParams() : this(1e-5f, 0.1f)
    {
    }
}

/// <summary>
/// Margin losses an attacker maximizes, per sample, over logits z with label y (z_π1 ≥ z_π2 ≥ ... sorted):
/// CW: max_{j≠y} z_j − z_y (Carlini–Wagner margin, no confidence clamp).
/// Dlr: −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12) (Croce &amp; Hein 2020).
/// TargetedDlr: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12), target t per sample.
/// Labels and targets must lie in [0, K): the CPU backend throws on one outside, the GPU kernels give NaN for that row.
/// </summary>
public enum MarginKind { CW, Dlr, TargetedDlr }

/// <summary>SGD with momentum (PyTorch semantics, dampening 0), decoupled from the learning-rate schedule.</summary>
public readonly record struct SgdParams(float LearningRate, float Momentum = 0.9f, float WeightDecay = 0f, bool Nesterov = false);
