using System.Runtime.Intrinsics;

namespace AdvRobust.Cpu;

/// <summary>
/// One elementwise unary op, driven by <see cref="UnaryDriver{TOp}"/>: y = Forward(x), and the backward pass
/// dx = dy * Backward(x), where Backward is the derivative op'(x). An op that sets <see cref="Vectorized"/> also
/// gives Vector256 forms, which must return the same bits as the scalar forms lane by lane (the driver mixes
/// them at tails and chunk edges, and tests compare them bitwise).
/// </summary>
internal interface IUnaryOp
{
    static abstract float Forward(float x);

    static abstract float Backward(float x);

    static virtual bool Vectorized => false;

    static virtual Vector256<float> Forward(Vector256<float> x) => throw new NotSupportedException();

    static virtual Vector256<float> Backward(Vector256<float> x) => throw new NotSupportedException();
}
