using System.Runtime.Intrinsics;

namespace AdvRobust.Cpu;

// The binary op table, one struct per BinaryOp. Max and Min propagate NaN (IEEE 754-2019 maximum/minimum, as
// MathF.Max and Vector256.Max do in .NET; kernels/elementwise.cu too) and order -0 below +0.

internal readonly struct AddOp : IBinaryOp
{
    public static float Forward(float a, float b) => a + b;
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> a, Vector256<float> b) => a + b;
}

internal readonly struct SubOp : IBinaryOp
{
    public static float Forward(float a, float b) => a - b;
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> a, Vector256<float> b) => a - b;
}

internal readonly struct MulOp : IBinaryOp
{
    public static float Forward(float a, float b) => a * b;
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> a, Vector256<float> b) => a * b;
}

internal readonly struct DivOp : IBinaryOp
{
    public static float Forward(float a, float b) => a / b;
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> a, Vector256<float> b) => a / b;
}

internal readonly struct MaxOp : IBinaryOp
{
    public static float Forward(float a, float b) => MathF.Max(a, b);
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
}

internal readonly struct MinOp : IBinaryOp
{
    public static float Forward(float a, float b) => MathF.Min(a, b);
    public static bool Vectorized => true;
    public static Vector256<float> Forward(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
}
