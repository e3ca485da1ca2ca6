using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// Model evaluations whose results stay on the device, for attack loops that must not read anything back inside a
/// step (FAB-T, Square): the tensors returned belong to the caller's tape and live until it is disposed. The same
/// passes as <see cref="Objective"/> (a Constant input for logits alone, an Input and one backward pass of the summed
/// loss for a gradient), so the values are bit-identical to it; only the host copies are gone.
/// </summary>
internal static class DeviceEvaluation
{
    /// <summary>N×K logits of x from a forward pass that records no parameter gradient.</summary>
    public static Tensor Logits(Tape tape, Classifier model, Tensor x) =>
        model.Forward(tape, tape.Constant(x)).Logits.Value;

    /// <summary>N×K logits of x and the gradient w.r.t. x of the scalar <paramref name="total"/>(logits).</summary>
    public static (Tensor Logits, Tensor Grad) LogitsAndGradient(Tape tape, Classifier model, Tensor x,
        Func<Variable, Variable> total)
    {
        var input = tape.Input(x);
        var logits = model.Forward(tape, input).Logits;
        tape.Backward(total(logits));
        return (logits.Value,
            input.Grad ?? throw new InvalidOperationException("the attack loss does not depend on the input"));
    }
}
