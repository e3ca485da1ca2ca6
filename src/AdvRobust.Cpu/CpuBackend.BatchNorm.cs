using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of the training-mode batch norm (cuDNN's spatial batch norm, kernels/batchnorm.cu as fallback).
// Shape letters: x N×C×..., every axis after 1 flattened into L; each channel c normalizes its m = N·L values.
// Forward (statistics in double, two passes):
//   mean = Σx/m;  var = Σ(x − mean)²/m (biased: used to normalize);  invStd = 1/√(var + ε)
//   y = (x − mean)·invStd·γ + β;  savedMean = mean, savedInvStd = invStd
//   runningMean = (1 − momentum)·runningMean + momentum·mean
//   runningVar  = (1 − momentum)·runningVar  + momentum·var·m/(m − 1)   (unbiased, as PyTorch)
// Backward, with x̂ = (x − mean)·invStd from the saved statistics (sums in double):
//   dβ = Σ dy;  dγ = Σ dy·x̂;  dx = γ·invStd·(dy − dβ/m − x̂·dγ/m)
// One task per channel.
public sealed partial class CpuBackend
{
    public void BatchNormForward(BatchNormParams p, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean,
        Tensor runningVar, Tensor y, Tensor savedMean, Tensor savedInvStd)
    {
        var (n, c, l) = ChannelLayout(x);
        long m = (long)n * l;
        CpuParallel.For(0, c, ch =>
        {
            ReadOnlySpan<float> xs = x.F();
            double sum = 0;
            for (int i = 0; i < n; i++)
                foreach (float v in xs.Slice((i * c + ch) * l, l)) sum += v;
            double mean = sum / m;
            double sq = 0;
            for (int i = 0; i < n; i++)
                foreach (float v in xs.Slice((i * c + ch) * l, l)) sq += (v - mean) * (v - mean);
            double var = sq / m;
            double invStd = 1.0 / Math.Sqrt(var + p.Epsilon);
            double scale = invStd * gamma.F()[ch], shift = beta.F()[ch];
            Span<float> ys = y.F();
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++) ys[o + k] = (float)((xs[o + k] - mean) * scale + shift);
            }
            savedMean.F()[ch] = (float)mean;
            savedInvStd.F()[ch] = (float)invStd;
            double mom = p.Momentum;
            runningMean.F()[ch] = (float)((1 - mom) * runningMean.F()[ch] + mom * mean);
            runningVar.F()[ch] = (float)((1 - mom) * runningVar.F()[ch] + mom * var * m / (m - 1));
        });
    }

    public void BatchNormBackward(BatchNormParams p, Tensor x, Tensor dy, Tensor gamma, Tensor savedMean,
        Tensor savedInvStd, Tensor dx, Tensor dgamma, Tensor dbeta)
    {
        var (n, c, l) = ChannelLayout(x);
        long m = (long)n * l;
        CpuParallel.For(0, c, ch =>
        {
            ReadOnlySpan<float> xs = x.F(), dys = dy.F();
            double mean = savedMean.F()[ch], invStd = savedInvStd.F()[ch];
            double sumDy = 0, sumDyXhat = 0;
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    sumDy += dys[o + k];
                    sumDyXhat += dys[o + k] * ((xs[o + k] - mean) * invStd);
                }
            }
            double scale = gamma.F()[ch] * invStd, meanDy = sumDy / m, meanDyXhat = sumDyXhat / m;
            Span<float> dxs = dx.F();
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * l;
                for (int k = 0; k < l; k++)
                {
                    double xhat = (xs[o + k] - mean) * invStd;
                    dxs[o + k] = (float)(scale * (dys[o + k] - meanDy - xhat * meanDyXhat));
                }
            }
            dgamma.F()[ch] = (float)sumDyXhat;
            dbeta.F()[ch] = (float)sumDy;
        });
    }

    /// <summary>(N, C, L): batch, channels, and the product of every axis after the channel axis.</summary>
    private static (int N, int C, int L) ChannelLayout(Tensor x)
    {
        int n = x.Shape[0], c = x.Shape[1];
        return (n, c, n * c == 0 ? 0 : checked((int)(x.Length / ((long)n * c))));
    }
}
