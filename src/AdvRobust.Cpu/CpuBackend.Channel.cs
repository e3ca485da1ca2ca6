using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// Per-channel ops over axis 1. Shape letters: x N×C×..., every axis after 1 flattened into L (L = 1 for N×C).
//   ChannelAffine: y[n, c, l] = x[n, c, l]·scale[c] + shift[c] in float; a null scale skips the multiply and a null
//                  shift the add (so x·s stays exactly x·s, −0 included). y may be x (in place).
//   ChannelSum:    y[c] = Σ over n and l of x[n, c, l], in double, n-major.
//   ChannelFill:   y[n, c, l] = value[c] (a copy: −0 and NaN payloads kept).
public sealed partial class CpuBackend
{
    public void ChannelAffine(Tensor x, Tensor? scale, Tensor? shift, Tensor y)
    {
        var (n, c, l) = ChannelLayout(x);
        Parallel.For(0, n, i =>
        {
            ReadOnlySpan<float> xs = x.F();
            Span<float> ys = y.F();
            for (int ch = 0; ch < c; ch++)
            {
                int o = (i * c + ch) * l;
                if (scale is not null)
                {
                    float s = scale.F()[ch];
                    for (int k = 0; k < l; k++) ys[o + k] = xs[o + k] * s;
                }
                else if (!ReferenceEquals(x.Storage, y.Storage))
                {
                    xs.Slice(o, l).CopyTo(ys.Slice(o, l));
                }
                if (shift is not null)
                {
                    float b = shift.F()[ch];
                    for (int k = 0; k < l; k++) ys[o + k] += b;
                }
            }
        });
    }

    public void ChannelSum(Tensor x, Tensor y)
    {
        var (n, c, l) = ChannelLayout(x);
        Parallel.For(0, c, ch =>
        {
            ReadOnlySpan<float> xs = x.F();
            double sum = 0;
            for (int i = 0; i < n; i++)
                foreach (float v in xs.Slice((i * c + ch) * l, l)) sum += v;
            y.F()[ch] = (float)sum;
        });
    }

    public void ChannelFill(Tensor value, Tensor y)
    {
        var (n, c, l) = ChannelLayout(y);
        ReadOnlySpan<float> v = value.F();
        Span<float> ys = y.F();
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++) ys.Slice((i * c + ch) * l, l).Fill(v[ch]);
    }
}
