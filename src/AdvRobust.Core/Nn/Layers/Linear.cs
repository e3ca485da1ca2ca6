using AdvRobust.Core.Autograd;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>
/// y = x·Wᵀ + b for x N×In, "weight" W Out×In, "bias" b Out (PyTorch's Linear). Weight and bias are drawn from
/// PyTorch's default U(±1/√In); <paramref name="zeroBias"/> starts the bias at 0 instead (the WideResNet code does).
/// </summary>
public sealed class Linear : Layer
{
    public Linear(ParameterInit init, int inFeatures, int outFeatures, bool bias = true, bool zeroBias = false)
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new ArgumentException($"Linear({inFeatures}→{outFeatures}) needs positive sizes");
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        Weight = RegisterParameter("weight", init.KaimingUniformDefault(inFeatures, outFeatures, inFeatures));
        if (bias)
            Bias = RegisterParameter("bias",
                zeroBias ? init.Constant(0f, outFeatures) : init.KaimingUniformDefault(inFeatures, outFeatures));
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Variable Forward(Tape tape, Variable x) =>
        F.Linear(tape, x, tape.Param(Weight), Bias is null ? null : tape.Param(Bias));
}
