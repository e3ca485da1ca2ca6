using System.Runtime.Intrinsics;

namespace AdvRobust.Cpu;

// The unary op table, one struct per UnaryOp (kept together, like a derivative table, rather than one file each).
// Forward and Backward (the derivative op'(x); the driver multiplies by dy) are the formulas kernels/elementwise.cu
// implements, NaN included: Sign and Relu map NaN to 0 (the kernels' x > 0 tests), the other ops propagate it.

internal readonly struct NegOp : IUnaryOp
{
    public static float Forward(float x) => -x;
    public static float Backward(float x) => -1f;
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> x) => -x;
    public static Vector256<float> Backward(Vector256<float> x) => Vector256.Create(-1f);
}

internal readonly struct AbsOp : IUnaryOp
{
    public static float Forward(float x) => MathF.Abs(x);
    public static float Backward(float x) => SignOp.Forward(x);
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> x) => Vector256.Abs(x);
    public static Vector256<float> Backward(Vector256<float> x) => SignOp.Forward(x);
}

/// <summary>sign(x) in {-1, 0, 1}: sign(±0) = +0 and sign(NaN) = 0.</summary>
internal readonly struct SignOp : IUnaryOp
{
    public static float Forward(float x) => x > 0f ? 1f : x < 0f ? -1f : 0f;
    public static float Backward(float x) => 0f;
    public static bool Vectorized => true;

    public static Vector256<float> Forward(Vector256<float> x) =>
        (Vector256.GreaterThan(x, Vector256<float>.Zero) & Vector256<float>.One) -
        (Vector256.LessThan(x, Vector256<float>.Zero) & Vector256<float>.One);

    public static Vector256<float> Backward(Vector256<float> x) => Vector256<float>.Zero;
}

/// <summary>relu(x) = x > 0 ? x : 0 (so relu(-0) = +0, relu(NaN) = 0); relu'(x) = x > 0 ? 1 : 0.</summary>
internal readonly struct ReluOp : IUnaryOp
{
    public static float Forward(float x) => x > 0f ? x : 0f;
    public static float Backward(float x) => x > 0f ? 1f : 0f;
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> x) => Vector256.GreaterThan(x, Vector256<float>.Zero) & x;

    public static Vector256<float> Backward(Vector256<float> x) =>
        Vector256.GreaterThan(x, Vector256<float>.Zero) & Vector256<float>.One;
}

internal readonly struct ExpOp : IUnaryOp
{
    public static float Forward(float x) => MathF.Exp(x);
    public static float Backward(float x) => MathF.Exp(x);
}

internal readonly struct LogOp : IUnaryOp
{
    public static float Forward(float x) => MathF.Log(x);
    public static float Backward(float x) => 1f / x;
}

internal readonly struct SqrtOp : IUnaryOp
{
    public static float Forward(float x) => MathF.Sqrt(x);
    public static float Backward(float x) => 0.5f / MathF.Sqrt(x);
}

internal readonly struct SquareOp : IUnaryOp
{
    public static float Forward(float x) => x * x;
    public static float Backward(float x) => x + x;
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> x) => x * x;
    public static Vector256<float> Backward(Vector256<float> x) => x + x;
}

internal readonly struct TanhOp : IUnaryOp
{
    public static float Forward(float x) => MathF.Tanh(x);

    public static float Backward(float x)
    {
        float t = MathF.Tanh(x);
        return 1f - t * t;
    }
}

/// <summary>s(x) = 1 / (1 + exp(-x)); s' = s (1 - s).</summary>
internal readonly struct SigmoidOp : IUnaryOp
{
    public static float Forward(float x) => 1f / (1f + MathF.Exp(-x));

    public static float Backward(float x)
    {
        float s = Forward(x);
        return s * (1f - s);
    }
}
