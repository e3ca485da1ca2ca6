using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Optim;

/// <summary>
/// SGD with momentum over a module's parameters, one fused <see cref="Ops.SgdStep"/> per parameter (PyTorch's
/// semantics, dampening 0): g = grad + wd·param; buf = m·buf + g; param −= lr·(nesterov ? g + m·buf : buf).
/// The momentum buffer starts at zero (so the first step has buf = g, as PyTorch) and lives in
/// <see cref="Parameter.Momentum"/>. Parameters that are frozen or have no gradient yet are skipped.
/// With <c>decayWeightsOnly</c>, weight decay applies only to tensors of rank ≥ 2 — convolution (K×C×R×S) and
/// linear (Out×In) weights — and not to biases or batch-norm γ/β, which are rank 1.
/// The learning rate of each step comes from the schedule at <see cref="Iteration"/>, which each step advances.
/// </summary>
public sealed class Sgd
{
    private readonly List<Parameter> _parameters;

    public Sgd(Module model, LrSchedule schedule, float momentum = 0.9f, float weightDecay = 0f, bool nesterov = false,
        bool decayWeightsOnly = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(schedule);
        if (!float.IsFinite(momentum) || momentum < 0)
            throw new ArgumentException($"momentum must be ≥ 0, got {momentum}");
        if (!float.IsFinite(weightDecay) || weightDecay < 0)
            throw new ArgumentException($"weight decay must be ≥ 0, got {weightDecay}");
        if (nesterov && momentum == 0) throw new ArgumentException("Nesterov momentum needs a momentum above 0");
        _parameters = model.Parameters().ToList();
        (Schedule, Momentum, WeightDecay) = (schedule, momentum, weightDecay);
        (Nesterov, DecayWeightsOnly) = (nesterov, decayWeightsOnly);
    }

    public Sgd(Module model, float learningRate, float momentum = 0.9f, float weightDecay = 0f, bool nesterov = false,
        bool decayWeightsOnly = false)
        : this(model, LrSchedule.Constant(learningRate), momentum, weightDecay, nesterov, decayWeightsOnly)
    {
    }

    public LrSchedule Schedule { get; }
    public float Momentum { get; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }
    public bool DecayWeightsOnly { get; }

    /// <summary>Steps taken so far: the iteration the next step's learning rate is read at.</summary>
    public long Iteration { get; private set; }

    /// <summary>Continues a run from a checkpoint taken after <paramref name="iteration"/> steps, so the schedule
    /// resumes where it left off (the momentum buffers are restored separately, in <see cref="Parameter.Momentum"/>).</summary>
    public void ResumeAt(long iteration)
    {
        if (iteration < 0) throw new ArgumentOutOfRangeException(nameof(iteration), iteration, "iterations count from 0");
        Iteration = iteration;
    }

    /// <summary>The learning rate the next <see cref="Step"/> uses.</summary>
    public float LearningRate => Schedule.At(Iteration);

    /// <summary>Updates every trainable parameter that has a gradient, then advances <see cref="Iteration"/>.</summary>
    public void Step()
    {
        float lr = LearningRate;
        foreach (var p in _parameters)
        {
            if (!p.RequiresGrad || p.Grad is null) continue;
            p.Momentum ??= Tensor.Zeros(p.Value.Backend, p.Value.Shape.Dims.ToArray());
            float wd = DecayWeightsOnly && p.Value.Rank < 2 ? 0f : WeightDecay;
            Ops.SgdStep(new SgdParams(lr, Momentum, wd, Nesterov), p.Value, p.Grad, p.Momentum);
        }
        Iteration++;
    }

    /// <summary>
    /// The update of <see cref="Step"/> with the learning rate read on the device from <paramref name="lr"/>
    /// (Float32[1], written before the call) and without advancing <see cref="Iteration"/> (call <see cref="Advance"/>):
    /// device work only, so it can be captured once as a graph and replayed every step. Same arithmetic as Step.
    /// </summary>
    public void Update(Tensor lr)
    {
        foreach (var p in _parameters)
        {
            if (!p.RequiresGrad || p.Grad is null) continue;
            p.Momentum ??= Tensor.Zeros(p.Value.Backend, p.Value.Shape.Dims.ToArray());
            float wd = DecayWeightsOnly && p.Value.Rank < 2 ? 0f : WeightDecay;
            Ops.SgdStep(new SgdParams(0f, Momentum, wd, Nesterov), lr, p.Value, p.Grad, p.Momentum);
        }
    }

    /// <summary>Counts one optimizer iteration done by <see cref="Update"/>.</summary>
    public void Advance() => Iteration++;

    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.ZeroGrad();
    }
}
