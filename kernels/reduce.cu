// reduce.cu — reductions over the last axis: y[r] = op over c of x[r, c].
//
// Math (ReduceOp codes, the C# enum order): Sum Σ x | Max max x | Min min x | SumSquares Σ x² (squared L2 norm).
//   Max/Min propagate NaN. An empty row (cols = 0) gives the identity: 0, -inf, +inf, 0.
//   No backward here: the autograd rules express it with elementwise ops.
// Layout: x rows×cols row-major float32, y float32[rows].
// Launch: one block per row, grid-stride over rows: blockDim 256 (any multiple of 32 up to 1024 works),
//   grid = min(rows, 65536). Each thread accumulates a strided slice of the row (cols/blockDim values, in float), then
//   a warp butterfly and a 32-entry shared-memory stage combine the partials (a tree of depth log2(blockDim)).
// Traffic per element: reads 1 float = 4 B (+4 B written per row).
#include "common.cuh"

// ---- device helpers ----
enum { REDUCE_SUM, REDUCE_MAX, REDUCE_MIN, REDUCE_SUM_SQUARES };

template <class Op, bool Square>
__device__ __forceinline__ void reduce_rows_loop(const float* __restrict__ x, float* __restrict__ y, long long rows,
    int cols, float identity, float* scratch)
{
    // The row loop is uniform across the block (it depends on blockIdx only), so every thread reaches the
    // barriers inside block_reduce the same number of times.
    for (long long r = blockIdx.x; r < rows; r += gridDim.x)
    {
        const float* row = x + r * cols;
        float acc = identity;
        for (int c = threadIdx.x; c < cols; c += blockDim.x)
        {
            const float v = row[c];
            acc = Op::apply(acc, Square ? v * v : v);
        }
        acc = block_reduce<Op>(acc, identity, scratch);
        if (threadIdx.x == 0) y[r] = acc;
    }
}

// ---- kernels ----
extern "C" __global__ void reduce_rows_f32(const float* x, float* y, long long rows, int cols, int op)
{
    __shared__ float scratch[AR_WARP_SIZE];
    switch (op)
    {
    case REDUCE_SUM: reduce_rows_loop<SumOp, false>(x, y, rows, cols, 0.0f, scratch); break;
    case REDUCE_MAX: reduce_rows_loop<MaxOp, false>(x, y, rows, cols, -ar_inf(), scratch); break;
    case REDUCE_MIN: reduce_rows_loop<MinOp, false>(x, y, rows, cols, ar_inf(), scratch); break;
    case REDUCE_SUM_SQUARES: reduce_rows_loop<SumOp, true>(x, y, rows, cols, 0.0f, scratch); break;
    default: break;
    }
}
