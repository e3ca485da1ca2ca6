using AdvRobust.Core.Autograd;

namespace AdvRobust.Core.Nn.Layers;

/// <summary>How a <see cref="Conv2d"/> weight is drawn (see <see cref="ParameterInit"/>).</summary>
public enum ConvInit
{
    /// <summary>N(0, 2/fan_out): torchvision ResNets and the TRADES/RobustBench WideResNet. The default.</summary>
    KaimingNormalFanOut,

    /// <summary>U(±1/√fan_in): PyTorch's own Conv2d default, kaiming_uniform_(a=√5).</summary>
    PyTorchDefault,
}

/// <summary>
/// 2-D convolution with a square kernel: x N×C×H×W, weight K×C×R×R, y N×K×P×Q, optional bias K (PyTorch names
/// "weight", "bias"). The bias, when present, is drawn from U(±1/√fan_in) as PyTorch does, whatever the weight scheme.
/// </summary>
public sealed class Conv2d : Layer
{
    public Conv2d(ParameterInit init, int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0,
        bool bias = false, ConvInit scheme = ConvInit.KaimingNormalFanOut)
    {
        if (inChannels < 1 || outChannels < 1 || kernel < 1)
            throw new ArgumentException($"Conv2d({inChannels}→{outChannels}, kernel {kernel}) needs positive sizes");
        (InChannels, OutChannels, Kernel, Params) = (inChannels, outChannels, kernel, new ConvParams(stride, padding));
        int[] dims = [outChannels, inChannels, kernel, kernel];
        int fanIn = ParameterInit.FanIn(dims);
        Weight = RegisterParameter("weight", scheme == ConvInit.KaimingNormalFanOut
            ? init.KaimingNormalFanOut(dims)
            : init.KaimingUniformDefault(fanIn, dims));
        if (bias) Bias = RegisterParameter("bias", init.KaimingUniformDefault(fanIn, outChannels));
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public ConvParams Params { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Variable Forward(Tape tape, Variable x)
    {
        var y = F.Conv2d(tape, x, tape.Param(Weight), CallParams(tape));
        return Bias is null ? y : F.ChannelAffine(tape, y, null, tape.Param(Bias));
    }

    /// <summary>relu(Forward(x)); with a bias, one fused op (<see cref="F.Conv2dBiasRelu"/>), bitwise equal on the CPU.</summary>
    public Variable ForwardRelu(Tape tape, Variable x) => Bias is null
        ? F.Relu(tape, Forward(tape, x))
        : F.Conv2dBiasRelu(tape, x, tape.Param(Weight), tape.Param(Bias), CallParams(tape));

    /// <summary><see cref="Params"/>, marked <see cref="ConvParams.ConstantWeight"/> where the pass takes no parameter
    /// gradient: the weight then changes only by a versioned write (an SGD step, a load) between passes.</summary>
    private ConvParams CallParams(Tape tape) => tape.ParameterGradients ? Params : Params with { ConstantWeight = true };
}
