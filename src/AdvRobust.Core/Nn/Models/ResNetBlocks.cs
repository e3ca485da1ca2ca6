using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Layers;

namespace AdvRobust.Core.Nn.Models;

/// <summary>
/// The CIFAR ResNet basic block (kuangliu/pytorch-cifar, RobustBench resnet.py):
/// out = ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x)), conv1 3×3 with the block's stride, conv2 3×3.
/// shortcut = Sequential(conv 1×1 stride s, BN) when the stride or the width changes, else the identity.
/// Names: conv1, bn1, conv2, bn2, shortcut.0 (conv), shortcut.1 (BN).
/// </summary>
public sealed class BasicBlock : Layer
{
    public BasicBlock(ParameterInit init, int inPlanes, int planes, int stride)
    {
        Conv1 = RegisterModule("conv1", new Conv2d(init, inPlanes, planes, 3, stride, 1));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(init, planes));
        Conv2 = RegisterModule("conv2", new Conv2d(init, planes, planes, 3, 1, 1));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(init, planes));
        if (stride != 1 || inPlanes != planes)
            Shortcut = RegisterModule("shortcut",
                new Sequential(new Conv2d(init, inPlanes, planes, 1, stride), new BatchNorm2d(init, planes)));
    }

    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn1 { get; }
    public Conv2d Conv2 { get; }
    public BatchNorm2d Bn2 { get; }
    public Sequential? Shortcut { get; }

    public override Variable Forward(Tape tape, Variable x)
    {
        var h = Bn1.ForwardReluAfter(tape, Conv1, x);
        h = Bn2.Forward(tape, Conv2.Forward(tape, h));
        return F.Relu(tape, F.Add(tape, h, Shortcut is null ? x : Shortcut.Forward(tape, x)));
    }
}

/// <summary>
/// The pre-activation block (He et al. 2016, "Identity mappings"; kuangliu and Rice et al. 2020):
/// a = ReLU(bn1(x)); out = conv2(ReLU(bn2(conv1(a)))) + shortcut, where shortcut = conv 1×1 stride s applied to a
/// when the stride or the width changes, else x itself. Names: bn1, conv1, bn2, conv2, shortcut.0 (conv, no BN).
/// </summary>
public sealed class PreActBlock : Layer
{
    public PreActBlock(ParameterInit init, int inPlanes, int planes, int stride)
    {
        Bn1 = RegisterModule("bn1", new BatchNorm2d(init, inPlanes));
        Conv1 = RegisterModule("conv1", new Conv2d(init, inPlanes, planes, 3, stride, 1));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(init, planes));
        Conv2 = RegisterModule("conv2", new Conv2d(init, planes, planes, 3, 1, 1));
        if (stride != 1 || inPlanes != planes)
            Shortcut = RegisterModule("shortcut", new Sequential(new Conv2d(init, inPlanes, planes, 1, stride)));
    }

    public BatchNorm2d Bn1 { get; }
    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn2 { get; }
    public Conv2d Conv2 { get; }
    public Sequential? Shortcut { get; }

    public override Variable Forward(Tape tape, Variable x)
    {
        var a = F.Relu(tape, Bn1.Forward(tape, x));
        var shortcut = Shortcut is null ? x : Shortcut.Forward(tape, a);
        var h = Conv2.Forward(tape, F.Relu(tape, Bn2.Forward(tape, Conv1.Forward(tape, a))));
        return F.Add(tape, h, shortcut);
    }
}

/// <summary>
/// The WideResNet block of the TRADES / RobustBench code (wide_resnet.py, dropout 0):
/// equal width: out = x + conv2(ReLU(bn2(conv1(ReLU(bn1(x))))));
/// width change: a = ReLU(bn1(x)); out = convShortcut(a) + conv2(ReLU(bn2(conv1(a)))), convShortcut 1×1 stride s.
/// Names: bn1, conv1, bn2, conv2, convShortcut.
/// </summary>
public sealed class WideBasicBlock : Layer
{
    public WideBasicBlock(ParameterInit init, int inPlanes, int outPlanes, int stride)
    {
        Bn1 = RegisterModule("bn1", new BatchNorm2d(init, inPlanes));
        Conv1 = RegisterModule("conv1", new Conv2d(init, inPlanes, outPlanes, 3, stride, 1));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(init, outPlanes));
        Conv2 = RegisterModule("conv2", new Conv2d(init, outPlanes, outPlanes, 3, 1, 1));
        if (inPlanes != outPlanes)
            ConvShortcut = RegisterModule("convShortcut", new Conv2d(init, inPlanes, outPlanes, 1, stride));
        else if (stride != 1)
            throw new ArgumentException("the WideResNet block has an identity shortcut only when the stride is 1");
    }

    public BatchNorm2d Bn1 { get; }
    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn2 { get; }
    public Conv2d Conv2 { get; }
    public Conv2d? ConvShortcut { get; }

    public override Variable Forward(Tape tape, Variable x)
    {
        var a = F.Relu(tape, Bn1.Forward(tape, x));
        var h = Conv2.Forward(tape, F.Relu(tape, Bn2.Forward(tape, Conv1.Forward(tape, a))));
        return F.Add(tape, ConvShortcut is null ? x : ConvShortcut.Forward(tape, a), h);
    }
}

/// <summary>A WideResNet stage: its blocks in a Sequential named "layer" ("block1.layer.0.conv1.weight").</summary>
public sealed class NetworkBlock : Layer
{
    public NetworkBlock(ParameterInit init, int blocks, int inPlanes, int outPlanes, int stride)
    {
        Layer = RegisterModule("layer", new Sequential());
        for (int i = 0; i < blocks; i++)
            Layer.Add(new WideBasicBlock(init, i == 0 ? inPlanes : outPlanes, outPlanes, i == 0 ? stride : 1));
    }

    public Sequential Layer { get; }

    public override Variable Forward(Tape tape, Variable x) => Layer.Forward(tape, x);
}
