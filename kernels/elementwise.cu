// elementwise.cu — same-shape elementwise ops: fill, unary forward/backward, binary, axpby, clamp, gather rows.
//
// Math (op codes are the C# enum orders in src/AdvRobust.Core/OpKinds.cs):
//   UnaryOp   Neg -x | Abs |x| | Sign sign(x), sign(0)=0 | Relu max(x,0) | Exp e^x | Log ln x | Sqrt √x | Square x²
//             | Tanh tanh x | Sigmoid s = 1/(1+e^-x)
//   backward  dx = dy · op'(x) with op' = Neg -1 | Abs sign(x) | Sign 0 | Relu [x>0] | Exp e^x | Log 1/x
//             | Sqrt 0.5/√x | Square 2x | Tanh 1-tanh²x | Sigmoid s(1-s)       (the CPU backend's derivative table)
//   BinaryOp  Add a+b | Sub a-b | Mul a·b | Div a/b | Max | Min (Max/Min propagate NaN)
//   axpby     y = alpha·x + beta·y (beta = 0 still reads y, as the CPU does)
//   clamp     y = min(max(x, lo), hi), NaN passes through
//   gather    dst[i,:] = src[index[i],:], index -1 → zero row (other indices are validated by the host)
// Layout: flat contiguous float32 buffers of n elements; gather: src M×d, index int32[rows], dst rows×d, row-major.
// Launch: 1-D, blockDim 256, grid = min(ceil_div(n, 256), 65536) (any grid is correct: grid-stride loops).
// Traffic per element: fill 4 B | unary 8 B | unary_backward 12 B | binary 12 B | axpby 12 B | clamp 8 B
//   | gather 8 B (+4 B of index per row).
#include "common.cuh"

// ---- device helpers ----
enum { UNARY_NEG, UNARY_ABS, UNARY_SIGN, UNARY_RELU, UNARY_EXP, UNARY_LOG, UNARY_SQRT, UNARY_SQUARE, UNARY_TANH,
    UNARY_SIGMOID };
enum { BINARY_ADD, BINARY_SUB, BINARY_MUL, BINARY_DIV, BINARY_MAX, BINARY_MIN };

__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }

template <int Op>
__device__ __forceinline__ float unary_value(float x)
{
    switch (Op)
    {
    case UNARY_NEG: return -x;
    case UNARY_ABS: return fabsf(x);
    case UNARY_SIGN: return sign_f(x);
    case UNARY_RELU: return x > 0.0f ? x : 0.0f;
    case UNARY_EXP: return expf(x);
    case UNARY_LOG: return logf(x);
    case UNARY_SQRT: return sqrtf(x);
    case UNARY_SQUARE: return x * x;
    case UNARY_TANH: return tanhf(x);
    default: return sigmoid_f(x);
    }
}

// op'(x), the derivative table.
template <int Op>
__device__ __forceinline__ float unary_derivative(float x)
{
    switch (Op)
    {
    case UNARY_NEG: return -1.0f;
    case UNARY_ABS: return sign_f(x);
    case UNARY_SIGN: return 0.0f;
    case UNARY_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case UNARY_EXP: return expf(x);
    case UNARY_LOG: return 1.0f / x;
    case UNARY_SQRT: return 0.5f / sqrtf(x);
    case UNARY_SQUARE: return 2.0f * x;
    case UNARY_TANH:
    {
        const float t = tanhf(x);
        return 1.0f - t * t;
    }
    default:
    {
        const float s = sigmoid_f(x);
        return s * (1.0f - s);
    }
    }
}

template <int Op>
__device__ __forceinline__ float binary_value(float a, float b)
{
    switch (Op)
    {
    case BINARY_ADD: return a + b;
    case BINARY_SUB: return a - b;
    case BINARY_MUL: return a * b;
    case BINARY_DIV: return a / b;
    case BINARY_MAX: return MaxOp::apply(a, b);
    default: return MinOp::apply(a, b);
    }
}

// One loop per op code, so the switch is resolved outside the loop. Outputs may alias inputs element for element
// (in-place ops), so nothing here is __restrict__.
template <int Op>
__device__ __forceinline__ void unary_forward_loop(const float* x, float* y, long long n)
{
    for (long long i = grid_start(); i < n; i += grid_stride()) y[i] = unary_value<Op>(x[i]);
}

template <int Op>
__device__ __forceinline__ void unary_backward_loop(const float* x, const float* dy, float* dx, long long n)
{
    for (long long i = grid_start(); i < n; i += grid_stride()) dx[i] = dy[i] * unary_derivative<Op>(x[i]);
}

template <int Op>
__device__ __forceinline__ void binary_loop(const float* a, const float* b, float* y, long long n)
{
    for (long long i = grid_start(); i < n; i += grid_stride()) y[i] = binary_value<Op>(a[i], b[i]);
}

// ---- kernels ----
extern "C" __global__ void fill_f32(float* y, float v, long long n)
{
    for (long long i = grid_start(); i < n; i += grid_stride()) y[i] = v;
}

extern "C" __global__ void unary_forward_f32(const float* x, float* y, long long n, int op)
{
    switch (op)
    {
    case UNARY_NEG: unary_forward_loop<UNARY_NEG>(x, y, n); break;
    case UNARY_ABS: unary_forward_loop<UNARY_ABS>(x, y, n); break;
    case UNARY_SIGN: unary_forward_loop<UNARY_SIGN>(x, y, n); break;
    case UNARY_RELU: unary_forward_loop<UNARY_RELU>(x, y, n); break;
    case UNARY_EXP: unary_forward_loop<UNARY_EXP>(x, y, n); break;
    case UNARY_LOG: unary_forward_loop<UNARY_LOG>(x, y, n); break;
    case UNARY_SQRT: unary_forward_loop<UNARY_SQRT>(x, y, n); break;
    case UNARY_SQUARE: unary_forward_loop<UNARY_SQUARE>(x, y, n); break;
    case UNARY_TANH: unary_forward_loop<UNARY_TANH>(x, y, n); break;
    case UNARY_SIGMOID: unary_forward_loop<UNARY_SIGMOID>(x, y, n); break;
    default: break;
    }
}

extern "C" __global__ void unary_backward_f32(const float* x, const float* dy, float* dx, long long n, int op)
{
    switch (op)
    {
    case UNARY_NEG: unary_backward_loop<UNARY_NEG>(x, dy, dx, n); break;
    case UNARY_ABS: unary_backward_loop<UNARY_ABS>(x, dy, dx, n); break;
    case UNARY_SIGN: unary_backward_loop<UNARY_SIGN>(x, dy, dx, n); break;
    case UNARY_RELU: unary_backward_loop<UNARY_RELU>(x, dy, dx, n); break;
    case UNARY_EXP: unary_backward_loop<UNARY_EXP>(x, dy, dx, n); break;
    case UNARY_LOG: unary_backward_loop<UNARY_LOG>(x, dy, dx, n); break;
    case UNARY_SQRT: unary_backward_loop<UNARY_SQRT>(x, dy, dx, n); break;
    case UNARY_SQUARE: unary_backward_loop<UNARY_SQUARE>(x, dy, dx, n); break;
    case UNARY_TANH: unary_backward_loop<UNARY_TANH>(x, dy, dx, n); break;
    case UNARY_SIGMOID: unary_backward_loop<UNARY_SIGMOID>(x, dy, dx, n); break;
    default: break;
    }
}

extern "C" __global__ void binary_forward_f32(const float* a, const float* b, float* y, long long n, int op)
{
    switch (op)
    {
    case BINARY_ADD: binary_loop<BINARY_ADD>(a, b, y, n); break;
    case BINARY_SUB: binary_loop<BINARY_SUB>(a, b, y, n); break;
    case BINARY_MUL: binary_loop<BINARY_MUL>(a, b, y, n); break;
    case BINARY_DIV: binary_loop<BINARY_DIV>(a, b, y, n); break;
    case BINARY_MAX: binary_loop<BINARY_MAX>(a, b, y, n); break;
    case BINARY_MIN: binary_loop<BINARY_MIN>(a, b, y, n); break;
    default: break;
    }
}

extern "C" __global__ void axpby_f32(const float* x, float* y, float alpha, float beta, long long n)
{
    for (long long i = grid_start(); i < n; i += grid_stride()) y[i] = alpha * x[i] + beta * y[i];
}

extern "C" __global__ void clamp_f32(const float* x, float* y, float lo, float hi, long long n)
{
    for (long long i = grid_start(); i < n; i += grid_stride()) y[i] = clamp_f(x[i], lo, hi);
}

// Grid-stride over rows·d elements; element e is (row e / d, column e % d).
extern "C" __global__ void gather_rows_f32(const float* __restrict__ src, const int* __restrict__ index,
    float* __restrict__ dst, int rows, int d)
{
    const long long n = (long long)rows * d;
    for (long long e = grid_start(); e < n; e += grid_stride())
    {
        long long row;
        int col;
        divmod_ll(e, d, row, col);
        const int from = index[row];
        dst[e] = from < 0 ? 0.0f : src[(long long)from * d + col];
    }
}
