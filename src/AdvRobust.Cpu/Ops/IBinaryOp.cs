using System.Runtime.Intrinsics;

namespace AdvRobust.Cpu;

/// <summary>
/// One elementwise binary op, driven by <see cref="BinaryDriver{TOp}"/>: y = Forward(a, b). As for
/// <see cref="IUnaryOp"/>, a Vectorized op's Vector256 form returns the same bits as its scalar form.
/// </summary>
internal interface IBinaryOp
{
    static abstract float Forward(float a, float b);

    static virtual bool Vectorized => false;

    static virtual Vector256<float> Forward(Vector256<float> a, Vector256<float> b) =>
        throw new NotSupportedException();
}
