using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/pool.cu. Shape letters: x N×C×H×W, y N×C×P×Q with P = (H + 2·pad − k)/stride + 1 (Q likewise).
// Window of output (p, q): rows p·stride − pad + i, columns q·stride − pad + j for i, j in [0, k), visited i-major
// ("window order"). Padding ≤ k/2, so every window holds at least one pixel of the image.
//   Max:  y = the largest in-image value of the window (padding is ignored, never a candidate). The backward routes
//         dy to the FIRST maximum in window order (strict >; a NaN wins over numbers, the first NaN over later ones):
//         dx[argmax] += dy, outputs visited in (p, q) order, so overlapping windows add in a fixed order.
//   Avg:  y = (1/k²)·Σ of the window with padded zeros counted (count_include_pad; with floor-mode output sizes the
//         window never passes the padding, so the divisor is always k²); sums in double.
//         Backward, as a gather: dx[h, w] = (1/k²)·Σ dy[p, q] over the windows covering (h, w), in double.
// One task per (n, c) plane.
public sealed partial class CpuBackend
{
    public void Pool2dForward(PoolParams p, Tensor x, Tensor y)
    {
        int h = x.Shape[2], w = x.Shape[3], outP = y.Shape[2], outQ = y.Shape[3];
        CpuParallel.For(0, x.Shape[0] * x.Shape[1], plane =>
        {
            ReadOnlySpan<float> xs = x.F().Slice(plane * h * w, h * w);
            Span<float> ys = y.F().Slice(plane * outP * outQ, outP * outQ);
            if (IsMax2x2(p))
            {
                for (int i = 0; i < outP; i++)
                {
                    int j = Max2x2Vector.IsSupported ? Max2x2Vector.ForwardRow(xs, w, i, ys.Slice(i * outQ, outQ)) : 0;
                    for (; j < outQ; j++) ys[i * outQ + j] = xs[ArgMax2x2(xs, w, i, j)];
                }
                return;
            }
            for (int i = 0; i < outP; i++)
            for (int j = 0; j < outQ; j++)
            {
                ys[i * outQ + j] = p.Kind == PoolKind.Max
                    ? xs[ArgMax(p, xs, h, w, i, j)]
                    : AvgWindow(p, xs, h, w, i, j);
            }
        });
    }

    public void Pool2dBackward(PoolParams p, Tensor x, Tensor y, Tensor dy, Tensor dx)
    {
        int h = x.Shape[2], w = x.Shape[3], outP = y.Shape[2], outQ = y.Shape[3];
        CpuParallel.For(0, x.Shape[0] * x.Shape[1], plane =>
        {
            ReadOnlySpan<float> xs = x.F().Slice(plane * h * w, h * w);
            ReadOnlySpan<float> dys = dy.F().Slice(plane * outP * outQ, outP * outQ);
            Span<float> dxs = dx.F().Slice(plane * h * w, h * w);
            if (p.Kind == PoolKind.Max)
            {
                dxs.Clear();
                bool fast = IsMax2x2(p);
                for (int i = 0; i < outP; i++)
                {
                    // The vector rows write every pixel of their windows (the winner gets 0 + dy, as += on zeros).
                    int j = fast && Max2x2Vector.IsSupported
                        ? Max2x2Vector.BackwardRow(xs, w, i, dys.Slice(i * outQ, outQ), dxs) : 0;
                    for (; j < outQ; j++)
                        dxs[fast ? ArgMax2x2(xs, w, i, j) : ArgMax(p, xs, h, w, i, j)] += dys[i * outQ + j];
                }
                return;
            }
            for (int r = 0; r < h; r++)
            {
                var (p0, p1) = CoveringWindows(r, p, outP);
                for (int c = 0; c < w; c++)
                {
                    var (q0, q1) = CoveringWindows(c, p, outQ);
                    double sum = 0;
                    for (int i = p0; i < p1; i++)
                    for (int j = q0; j < q1; j++)
                        sum += dys[i * outQ + j];
                    dxs[r * w + c] = (float)(sum / ((double)p.Kernel * p.Kernel));
                }
            }
        });
    }

    /// <summary>The common 2×2, stride 2, unpadded max-pool: every window lies inside the image (floor mode).</summary>
    private static bool IsMax2x2(PoolParams p) => p is { Kind: PoolKind.Max, Kernel: 2, Stride: 2, Padding: 0 };

    /// <summary><see cref="ArgMax"/> for <see cref="IsMax2x2"/> windows, unrolled: same order, same NaN rule.</summary>
    private static int ArgMax2x2(ReadOnlySpan<float> xs, int w, int i, int j)
    {
        int top = 2 * i * w + 2 * j, best = top;
        float bestValue = xs[top];
        Consider(xs, top + 1, ref best, ref bestValue);
        Consider(xs, top + w, ref best, ref bestValue);
        Consider(xs, top + w + 1, ref best, ref bestValue);
        return best;
    }

    /// <summary>
    /// The window-order rule: a later value wins only if strictly larger, or a NaN over a number. Written without
    /// branches (non-short-circuit operators and bit masks): on real activations "is it larger" is a coin flip,
    /// and mispredicting it cost two thirds of the pooling time.
    /// </summary>
    private static void Consider(ReadOnlySpan<float> xs, int index, ref int best, ref float bestValue)
    {
        float v = xs[index];
        bool take = (v > bestValue) | (float.IsNaN(v) & !float.IsNaN(bestValue));
        int mask = -System.Runtime.CompilerServices.Unsafe.As<bool, byte>(ref take); // all ones when take
        best ^= (best ^ index) & mask;
        bestValue = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(bestValue) ^
            ((BitConverter.SingleToInt32Bits(bestValue) ^ BitConverter.SingleToInt32Bits(v)) & mask));
    }

    /// <summary>Index in the plane of the first maximum of window (i, j), in window order.</summary>
    private static int ArgMax(PoolParams p, ReadOnlySpan<float> xs, int h, int w, int i, int j)
    {
        int best = -1;
        float bestValue = float.NegativeInfinity;
        for (int a = 0; a < p.Kernel; a++)
        {
            int r = i * p.Stride - p.Padding + a;
            if ((uint)r >= (uint)h) continue;
            for (int b = 0; b < p.Kernel; b++)
            {
                int c = j * p.Stride - p.Padding + b;
                if ((uint)c >= (uint)w) continue;
                float v = xs[r * w + c];
                if (best < 0 || v > bestValue || (float.IsNaN(v) && !float.IsNaN(bestValue)))
                {
                    best = r * w + c;
                    bestValue = v;
                }
            }
        }
        return best;
    }

    private static float AvgWindow(PoolParams p, ReadOnlySpan<float> xs, int h, int w, int i, int j)
    {
        double sum = 0;
        for (int a = 0; a < p.Kernel; a++)
        {
            int r = i * p.Stride - p.Padding + a;
            if ((uint)r >= (uint)h) continue;
            for (int b = 0; b < p.Kernel; b++)
            {
                int c = j * p.Stride - p.Padding + b;
                if ((uint)c < (uint)w) sum += xs[r * w + c];
            }
        }
        return (float)(sum / ((double)p.Kernel * p.Kernel));
    }

    /// <summary>Outputs o in [lo, hi) whose window covers row (or column) r: 0 ≤ r + pad − o·stride &lt; k.</summary>
    private static (int Lo, int Hi) CoveringWindows(int r, PoolParams p, int outSize)
    {
        int first = r + p.Padding - p.Kernel + 1;
        int lo = first > 0 ? (first + p.Stride - 1) / p.Stride : 0;
        int hi = Math.Min(outSize, (r + p.Padding) / p.Stride + 1);
        return (lo, Math.Max(lo, hi));
    }
}
