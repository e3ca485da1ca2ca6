using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
        var (_, c, l) = ChannelLayout(x);
        if (l == 0) return;
        // Contiguous element ranges (two per core on a large tensor), each walked plane by plane.
        ElementwiseChunks.For(x.Length, (start, count) =>
        {
            ReadOnlySpan<float> xs = x.F();
            Span<float> ys = y.F();
            ReadOnlySpan<float> sc = scale is null ? default : scale.F(), sh = shift is null ? default : shift.F();
            if (l < Vector256<float>.Count)
            {
                // Short planes (a linear layer's N×C): element by element, the same two roundings.
                for (int at = start; at < start + count; at++)
                {
                    int ch = at / l % c;
                    float v = xs[at];
                    if (scale is not null) v *= sc[ch];
                    if (shift is not null) v += sh[ch];
                    ys[at] = v;
                }
                return;
            }
            for (int at = start, end = start + count; at < end;)
            {
                int plane = at / l, run = Math.Min(end, (plane + 1) * l) - at, ch = plane % c;
                Affine(xs.Slice(at, run), scale is null ? null : sc[ch], shift is null ? null : sh[ch], ys.Slice(at, run));
                at += run;
            }
        });
    }

    /// <summary>y = x·s + b in float, the product rounded before the add (no FMA); a null s or b skips that step.
    /// y may be x.</summary>
    private static void Affine(ReadOnlySpan<float> x, float? s, float? b, Span<float> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float xs = ref MemoryMarshal.GetReference(x);
            ref float ys = ref MemoryMarshal.GetReference(y);
            Vector256<float> vs = Vector256.Create(s ?? 1f), vb = Vector256.Create(b ?? 0f);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref xs, (nuint)i);
                if (s is not null) v *= vs;
                if (b is not null) v += vb;
                v.StoreUnsafe(ref ys, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            float v = x[i];
            if (s is not null) v *= s.Value;
            if (b is not null) v += b.Value;
            y[i] = v;
        }
    }

    /// <summary>Four channels per task, each a lane of one double vector: every lane adds its channel's values in
    /// the serial order, so the sums are the serial ones, but four dependency chains run at once.</summary>
    public void ChannelSum(Tensor x, Tensor y)
    {
        var (n, c, l) = ChannelLayout(x);
        Parallel.For(0, (c + 3) / 4, group =>
        {
            ReadOnlySpan<float> xs = x.F();
            int c0 = 4 * group;
            if (c0 + 4 > c || !Vector256.IsHardwareAccelerated)
            {
                for (int ch = c0; ch < Math.Min(c, c0 + 4); ch++)
                {
                    double sum = 0;
                    for (int i = 0; i < n; i++)
                        foreach (float v in xs.Slice((i * c + ch) * l, l)) sum += v;
                    y.F()[ch] = (float)sum;
                }
                return;
            }
            var acc = Vector256<double>.Zero;
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<float> a = xs.Slice((i * c + c0) * l, l), b = xs.Slice((i * c + c0 + 1) * l, l),
                    d = xs.Slice((i * c + c0 + 2) * l, l), e = xs.Slice((i * c + c0 + 3) * l, l);
                for (int k = 0; k < l; k++) acc += Vector256.Create(a[k], b[k], d[k], e[k]);
            }
            for (int lane = 0; lane < 4; lane++) y.F()[c0 + lane] = (float)acc[lane];
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
