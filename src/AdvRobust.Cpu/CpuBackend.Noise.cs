using AdvRobust.Core;
using AdvRobust.Core.Random;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/noise.cu. Shape letters: y is N×... seen as N samples of D = Length / N elements; x is N×... or
// 1×... (one row replicated into every row of y).
public sealed partial class CpuBackend
{
    // ---- GaussianNoise ----
    // Row s of y is the global sample g = firstSample + (ids is null ? s : (uint)ids[s]) (uint, wrapping); k = 0..D-1.
    //   r = Philox.Draw(seed, stream, Philox.PurposeNoise (= 7), g, k);  z = Normal(r.X0, r.X1)   (Box–Muller)
    //   y[s, k] = x[xs, k] + sigma·z   with xs = s, or 0 when x has one row          (float arithmetic)
    // One task per sample; x may be y (same shape), since element k is read before it is written.
    public void GaussianNoise(Tensor x, Tensor y, float sigma, Tensor key, Tensor? sampleIds)
    {
        var (seed, stream, first) = KeyWords(key);
        GaussianNoise(x, y, sigma, seed, stream, first, sampleIds);
    }

    public void GaussianNoise(Tensor x, Tensor y, float sigma, ulong seed, uint stream, uint firstSample,
        Tensor? sampleIds)
    {
        int n = y.Shape[0], d = (int)y.Shape.PerSample;
        bool replicate = x.Shape[0] == 1;  // validated: x has N rows or one
        int[]? ids = sampleIds?.I().ToArray();
        CpuParallel.For(0, n, s =>
        {
            uint g = unchecked(firstSample + (ids is null ? (uint)s : (uint)ids[s]));
            ReadOnlySpan<float> xs = x.F().Slice(replicate ? 0 : s * d, d);
            Span<float> ys = y.F().Slice(s * d, d);
            for (int k = 0; k < d; k++)
            {
                var r = Philox.Draw(seed, stream, Philox.PurposeNoise, g, (uint)k);
                ys[k] = xs[k] + sigma * Philox.Normal(r.X0, r.X1);
            }
        });
    }
}
