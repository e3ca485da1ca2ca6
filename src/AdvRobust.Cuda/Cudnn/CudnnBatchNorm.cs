using AdvRobust.Core;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// Training-mode batch normalization on cuDNN (CUDNN_BATCHNORM_SPATIAL: statistics per channel over N×H×W).
/// Forward: mean_c, var_c (biased) over the batch; y = γ_c·(x − mean_c)·invstd_c + β_c with
/// invstd_c = 1/√(var_c + ε); running_mean ← (1 − m)·running_mean + m·mean_c and
/// running_var ← (1 − m)·running_var + m·var_c·L/(L − 1) with L = N·H·W (cuDNN's exponentialAverageFactor = m,
/// PyTorch's convention, unbiased running variance); saved mean and invstd feed the backward.
/// Backward: dγ_c = Σ dy·x̂, dβ_c = Σ dy, dx = γ_c·invstd_c/L·(L·dy − dβ_c − x̂·dγ_c), all overwritten.
/// Shape letters: x N×C×H×W (N×C and N×C×L are viewed as N×C×1×1 and N×C×L×1); per-channel tensors C.
/// </summary>
public sealed unsafe class CudnnBatchNorm : IDisposable
{
    private const cudnnBatchNormMode_t Mode = cudnnBatchNormMode_t.CUDNN_BATCHNORM_SPATIAL;

    private readonly CudaContext _context;
    private readonly Dictionary<(int N, int C, int H, int W), (CudnnTensorDescriptorHandle X,
        CudnnTensorDescriptorHandle Bn)> _descriptors = new();
    private readonly Lock _gate = new();

    public CudnnBatchNorm(CudaContext context) => _context = context;

    public void ForwardTraining(BatchNormParams p, ReadOnlySpan<int> dims, ulong x, ulong gamma, ulong beta,
        ulong runningMean, ulong runningVar, ulong y, ulong savedMean, ulong savedInvStd)
    {
        var shape = CudnnDescriptors.AsNchw(dims);
        lock (_gate)
        {
            _context.MakeCurrent();
            var (xd, bn) = DescriptorsFor(shape);
            float one = 1f, zero = 0f;
            CudnnException.Check(Cudnn.cudnnBatchNormalizationForwardTraining(_context.Cudnn.DangerousGetHandle(), Mode,
                &one, &zero, xd.DangerousGetHandle(), x, xd.DangerousGetHandle(), y, bn.DangerousGetHandle(), gamma,
                beta, p.Momentum, runningMean, runningVar, p.Epsilon, savedMean, savedInvStd));
        }
    }

    public void Backward(BatchNormParams p, ReadOnlySpan<int> dims, ulong x, ulong dy, ulong gamma, ulong savedMean,
        ulong savedInvStd, ulong dx, ulong dgamma, ulong dbeta)
    {
        var shape = CudnnDescriptors.AsNchw(dims);
        lock (_gate)
        {
            _context.MakeCurrent();
            var (xd, bn) = DescriptorsFor(shape);
            float one = 1f, zero = 0f;
            nint d = xd.DangerousGetHandle();
            CudnnException.Check(Cudnn.cudnnBatchNormalizationBackward(_context.Cudnn.DangerousGetHandle(), Mode,
                &one, &zero, &one, &zero, d, x, d, dy, d, dx, bn.DangerousGetHandle(), gamma, dgamma, dbeta,
                p.Epsilon, savedMean, savedInvStd));
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var (x, bn) in _descriptors.Values)
            {
                x.Dispose();
                bn.Dispose();
            }
            _descriptors.Clear();
        }
    }

    private (CudnnTensorDescriptorHandle X, CudnnTensorDescriptorHandle Bn) DescriptorsFor(
        (int N, int C, int H, int W) s)
    {
        if (_descriptors.TryGetValue(s, out var d)) return d;
        var x = CudnnDescriptors.Tensor4d(s.N, s.C, s.H, s.W);
        try
        {
            d = (x, CudnnDescriptors.Tensor4d(1, s.C, 1, 1));
        }
        catch
        {
            x.Dispose();
            throw;
        }
        _descriptors[s] = d;
        return d;
    }
}
