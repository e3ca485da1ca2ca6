using System.Runtime.Intrinsics;
using AdvRobust.Core;
using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/optim.cu (SGD) and of the augmentation kernel.
public sealed partial class CpuBackend
{
    // ---- SgdStep ----
    // Per element, in float and in this order (PyTorch's SGD, dampening 0; the buffer starts at zero):
    //   g = grad + wd·param;  buf = m·buf + g;  param = param − lr·(nesterov ? g + m·buf : buf)
    // Vectors of 8 and the scalar tail do the same float operations per element (a product then a sum, never an FMA),
    // and each element is independent, so the result does not depend on the vector width or the split over cores.
    public void SgdStep(SgdParams p, Tensor param, Tensor grad, Tensor momentum)
    {
        float lr = p.LearningRate, m = p.Momentum, wd = p.WeightDecay;
        bool nesterov = p.Nesterov;
        ElementwiseChunks.For(param.Length, (start, count) =>
        {
            Span<float> w = param.F().Slice(start, count), buf = momentum.F().Slice(start, count);
            ReadOnlySpan<float> gs = grad.F().Slice(start, count);
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> vlr = Vector256.Create(lr), vm = Vector256.Create(m), vwd = Vector256.Create(wd);
                for (; i <= count - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var wi = Vector256.Create(w.Slice(i, Vector256<float>.Count));
                    var g = Vector256.Create(gs.Slice(i, Vector256<float>.Count)) + vwd * wi;
                    var b = vm * Vector256.Create(buf.Slice(i, Vector256<float>.Count)) + g;
                    b.CopyTo(buf.Slice(i));
                    (wi - vlr * (nesterov ? g + vm * b : b)).CopyTo(w.Slice(i));
                }
            }
            for (; i < count; i++)
            {
                float g = gs[i] + wd * w[i];
                float b = m * buf[i] + g;
                buf[i] = b;
                w[i] -= lr * (nesterov ? g + m * b : b);
            }
        });
    }

    /// <summary>SgdStep with lr = lrTensor[0]: the same loop.</summary>
    public void SgdStep(SgdParams p, Tensor lr, Tensor param, Tensor grad, Tensor momentum) =>
        SgdStep(p with { LearningRate = lr.F()[0] }, param, grad, momentum);

    /// <summary>RandomCropFlip with (seed, stream, firstSample) read from key (Int32[4]).</summary>
    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, Tensor key)
    {
        var (seed, stream, first) = KeyWords(key);
        RandomCropFlip(x, y, pad, flip, seed, stream, first);
    }

    /// <summary>(seed, stream, firstSample) of a DeviceKey tensor: (lo | hi &lt;&lt; 32, words[2], words[3]).</summary>
    internal static (ulong Seed, uint Stream, uint FirstSample) KeyWords(Tensor key)
    {
        ReadOnlySpan<int> w = key.I();
        return ((uint)w[0] | (ulong)(uint)w[1] << 32, (uint)w[2], (uint)w[3]);
    }

    // ---- RandomCropFlip ----
    // x, y N×C×H×W (y must not alias x). Row s is the global sample g = firstSample + s (uint, wrapping), so a sample
    // gets the same crop whatever the batch split. One draw per sample, shared by its C channels:
    //   r = Philox.Draw(seed, stream, Philox.PurposeAugment (= 3), g, 0)
    //   dx = (int)(r.X0 % (2·pad + 1)) − pad;  dy = (int)(r.X1 % (2·pad + 1)) − pad;  flip' = flip && (r.X2 & 1) == 1
    //   y[s, c, i, j] = x[s, c, i + dy, j' + dx] with j' = flip' ? W − 1 − j : j, and 0 where that is outside x.
    // This is "pad by `pad` zeros, crop H×W at offset (pad + dy, pad + dx), then mirror". One task per sample.
    public void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, ulong seed, uint stream, uint firstSample)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        uint span = (uint)(2 * pad + 1);
        CpuParallel.For(0, n, s =>
        {
            var r = Philox.Draw(seed, stream, Philox.PurposeAugment, unchecked(firstSample + (uint)s), 0);
            int dx = (int)(r.X0 % span) - pad, dy = (int)(r.X1 % span) - pad;
            bool mirror = flip && (r.X2 & 1) == 1;
            ReadOnlySpan<float> src = x.F().Slice(s * c * h * w, c * h * w);
            Span<float> dst = y.F().Slice(s * c * h * w, c * h * w);
            for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h; i++)
            {
                Span<float> row = dst.Slice((ch * h + i) * w, w);
                int si = i + dy;
                if ((uint)si >= (uint)h)
                {
                    row.Clear();
                    continue;
                }
                ReadOnlySpan<float> srcRow = src.Slice((ch * h + si) * w, w);
                for (int j = 0; j < w; j++)
                {
                    int sj = (mirror ? w - 1 - j : j) + dx;
                    row[j] = (uint)sj < (uint)w ? srcRow[sj] : 0f;
                }
            }
        });
    }
}
