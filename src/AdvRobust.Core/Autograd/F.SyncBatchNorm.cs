using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

/// <summary>
/// Synchronized training-mode batch norm: each participant of <see cref="IBatchNormSync"/> holds a shard of the global
/// batch and normalizes it with the global batch's statistics. Composed of existing ops (ChannelSum, ChannelAffine,
/// elementwise) and small host-side per-channel arithmetic in double; no backend op of its own.
///
/// Forward, shard r with m_r values per channel (N·H·W), M = Σ m_r:
///   s_r = Σx, q_r = Σ(x − s_r/m_r)² (local, two passes on the device), then one all-reduce (double) of
///   [s_r, q_r + s_r²/m_r, m_r] gives S = Σx, Q = Σx², M over the global batch;
///   mean = S/M, var = (Q − S·mean)/M (biased, used to normalize), invStd = 1/√(var + ε),
///   y = x·(γ·invStd) + (β − mean·γ·invStd);
///   running statistics as the CPU backend's: (1 − momentum)·running + momentum·(mean, var·M/(M − 1)), the same on
///   every participant.
/// Backward (the global-batch rule dx = γ·invStd·(g − Σg/M − x̂·Σg·x̂/M), sums over the global batch): the data-parallel
/// gradient is Σ_r (m_r/M)·(rank r's gradient), so rank r's dy is its own loss's and the global sums are
/// Σ_r (m_r/M)·Σ_local; one all-reduce of [w_r·Σg, w_r·Σg·x̂] (w_r = m_r/M) gives G1, G2 and rank r's
///   dx = γ·invStd·(g − G1/m_r − x̂·G2/m_r),  dγ = Σ_local g·x̂,  dβ = Σ_local g
/// (dγ, dβ are the shard's: the gradient all-reduce sums them). With one participant this is the plain rule.
/// Cost per layer: two all-reduces of 2C+1 and 2C doubles, and a few per-channel host round trips.
/// </summary>
public static partial class F
{
    public static Variable BatchNormSynced(Tape tape, Variable x, Variable gamma, Variable beta, Tensor runningMean,
        Tensor runningVar, BatchNormParams p, IBatchNormSync sync)
    {
        int c = x.Shape[1];
        var backend = x.Value.Backend;
        long m = c == 0 ? 0 : x.Value.Length / c;
        var dims = x.Shape.Dims.ToArray();

        var channel = tape.Empty(c);
        Ops.ChannelSum(x.Value, channel);
        float[] sum = channel.ToArray();
        var centered = tape.Empty(dims);
        backend.CopyIn(channel.Storage, sum.Select(s => (float)(-(double)s / m)).ToArray().AsSpan());
        Ops.ChannelAffine(x.Value, null, channel, centered);
        Ops.Binary(BinaryOp.Mul, centered, centered, centered);
        Ops.ChannelSum(centered, channel);
        float[] sq = channel.ToArray();

        var stats = new double[2 * c + 1];
        for (int ch = 0; ch < c; ch++)
        {
            stats[ch] = sum[ch];
            stats[c + ch] = m == 0 ? 0 : sq[ch] + (double)sum[ch] * sum[ch] / m;
        }
        stats[2 * c] = m;
        sync.AllReduceSum(stats);
        double total = stats[2 * c];

        float[] gammas = gamma.Value.ToArray(), betas = beta.Value.ToArray();
        float[] rm = runningMean.ToArray(), rv = runningVar.ToArray();
        float[] mean = new float[c], invStd = new float[c], xhatShift = new float[c], scale = new float[c],
            shift = new float[c];
        double mom = p.Momentum;
        for (int ch = 0; ch < c; ch++)
        {
            double mu = stats[ch] / total;
            double var = Math.Max(0, (stats[c + ch] - stats[ch] * mu) / total);
            double inv = 1.0 / Math.Sqrt(var + p.Epsilon);
            mean[ch] = (float)mu;
            invStd[ch] = (float)inv;
            xhatShift[ch] = (float)(-mu * inv);
            scale[ch] = (float)(gammas[ch] * inv);
            shift[ch] = (float)(betas[ch] - mu * gammas[ch] * inv);
            rm[ch] = (float)((1 - mom) * rm[ch] + mom * mu);
            rv[ch] = (float)((1 - mom) * rv[ch] + mom * var * total / (total - 1));
        }
        backend.CopyIn(runningMean.Storage, (ReadOnlySpan<float>)rm);
        backend.CopyIn(runningVar.Storage, (ReadOnlySpan<float>)rv);

        var y = tape.Empty(dims);
        Tensor scaleT = Upload(tape, scale), shiftT = Upload(tape, shift);
        Ops.ChannelAffine(x.Value, scaleT, shiftT, y);
        return tape.Record(OpKind.BatchNormSynced, y, (p, sync, m, total), [x, gamma, beta], Upload(tape, mean),
            Upload(tape, invStd), Upload(tape, xhatShift));
    }

    /// <summary>Backward of <see cref="BatchNormSynced"/>: [dx, dγ, dβ] (see the class comment).</summary>
    internal static Tensor?[] BatchNormSyncedBackward(Node n, Tensor g, Tape t)
    {
        var (_, sync, m, total) = ((BatchNormParams, IBatchNormSync, long, double))n.Attributes!;
        Tensor x = n.Inputs[0].Value, gamma = n.Inputs[1].Value;
        Tensor invStdT = n.Saved[1], xhatShiftT = n.Saved[2];
        int c = x.Shape[1];
        var dims = x.Shape.Dims.ToArray();

        var dbeta = t.Empty(c);
        Ops.ChannelSum(g, dbeta);
        var prod = t.Empty(dims);
        Ops.ChannelAffine(x, invStdT, xhatShiftT, prod);
        Ops.Binary(BinaryOp.Mul, g, prod, prod);
        var dgamma = t.Empty(c);
        Ops.ChannelSum(prod, dgamma);

        float[] sumDy = dbeta.ToArray(), sumDyXhat = dgamma.ToArray();
        double w = m / total;
        var sums = new double[2 * c];
        for (int ch = 0; ch < c; ch++)
        {
            sums[ch] = w * sumDy[ch];
            sums[c + ch] = w * sumDyXhat[ch];
        }
        sync.AllReduceSum(sums);

        // dx = g·s1 + x·s2 + s3 with x̂ = x·invStd + xhatShift:
        //   s1 = γ·invStd, s2 = −s1·invStd·G2/m, s3 = −s1·(G1/m + xhatShift·G2/m)
        float[] gammas = gamma.ToArray(), invStd = invStdT.ToArray(), xhatShift = xhatShiftT.ToArray();
        float[] s1 = new float[c], s2 = new float[c], s3 = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            double k = (double)gammas[ch] * invStd[ch], a = sums[ch] / m, b = sums[c + ch] / m;
            s1[ch] = (float)k;
            s2[ch] = (float)(-k * invStd[ch] * b);
            s3[ch] = (float)(-k * (a + xhatShift[ch] * b));
        }
        var dx = t.Empty(dims);
        Ops.ChannelAffine(x, Upload(t, s2), Upload(t, s3), prod);
        Ops.ChannelAffine(g, Upload(t, s1), null, dx);
        Ops.Binary(BinaryOp.Add, dx, prod, dx);
        return [dx, dgamma, dbeta];
    }

    private static Tensor Upload(Tape tape, float[] values)
    {
        var t = tape.Empty(values.Length);
        t.Backend.CopyIn(t.Storage, (ReadOnlySpan<float>)values);
        return t;
    }
}
