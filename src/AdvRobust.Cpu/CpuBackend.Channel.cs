using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// Per-channel ops over axis 1. Shape letters: x N×C×..., every axis after 1 flattened into L (L = 1 for N×C).
//   ChannelAffine: y[n, c, l] = x[n, c, l]·scale[c] + shift[c] in float; a null scale skips the multiply and a null
//                  shift the add (so x·s stays exactly x·s, −0 included). y may be x (in place).
//   ChannelSum:    y[c] = Σ over n and l of x[n, c, l], in double, n-major (each channel in that serial order).
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

    /// <summary>Sixteen channels per task, each a lane of one of four double vectors: every lane adds its channel's
    /// values in the serial order, so the sums are the serial ones, but sixteen dependency chains run at once (one
    /// vector of four was bound by the latency of its adds). Channels past the last multiple of 16 go four at a time.
    /// </summary>
    public void ChannelSum(Tensor x, Tensor y)
    {
        var (n, c, l) = ChannelLayout(x);
        CpuParallel.For(0, (c + 15) / 16, group =>
        {
            int c0 = 16 * group;
            if (c0 + 16 <= c && Vector256.IsHardwareAccelerated)
            {
                ChannelSum16(x.F(), n, c, l, c0, y.F());
                return;
            }
            for (int q = c0; q < Math.Min(c, c0 + 16); q += 4) ChannelSum4(x.F(), n, c, l, q, y.F());
        });
    }

    /// <summary>Channels c0 .. c0+15 (all present), four vectors of four lanes.</summary>
    private static void ChannelSum16(ReadOnlySpan<float> xs, int n, int c, int l, int c0, Span<float> y)
    {
        Vector256<double> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int i = 0; i < n; i++)
        {
            int o = (i * c + c0) * l;
            for (int k = 0; k < l; k++)
            {
                int at = o + k;
                acc0 += Vector256.Create(xs[at], xs[at + l], xs[at + 2 * l], xs[at + 3 * l]);
                acc1 += Vector256.Create(xs[at + 4 * l], xs[at + 5 * l], xs[at + 6 * l], xs[at + 7 * l]);
                acc2 += Vector256.Create(xs[at + 8 * l], xs[at + 9 * l], xs[at + 10 * l], xs[at + 11 * l]);
                acc3 += Vector256.Create(xs[at + 12 * l], xs[at + 13 * l], xs[at + 14 * l], xs[at + 15 * l]);
            }
        }
        for (int lane = 0; lane < 4; lane++)
        {
            y[c0 + lane] = (float)acc0[lane];
            y[c0 + 4 + lane] = (float)acc1[lane];
            y[c0 + 8 + lane] = (float)acc2[lane];
            y[c0 + 12 + lane] = (float)acc3[lane];
        }
    }

    /// <summary>Channels c0 .. min(c, c0+4)−1: one vector of four lanes, or one channel at a time at the edge.</summary>
    private static void ChannelSum4(ReadOnlySpan<float> xs, int n, int c, int l, int c0, Span<float> y)
    {
        if (c0 + 4 > c || !Vector256.IsHardwareAccelerated)
        {
            for (int ch = c0; ch < Math.Min(c, c0 + 4); ch++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++)
                    foreach (float v in xs.Slice((i * c + ch) * l, l)) sum += v;
                y[ch] = (float)sum;
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
        for (int lane = 0; lane < 4; lane++) y[c0 + lane] = (float)acc[lane];
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
