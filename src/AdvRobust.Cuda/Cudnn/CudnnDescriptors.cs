using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// Factories for fully set cuDNN descriptors (float32, NCHW): a descriptor whose Set call fails is freed before the
/// exception leaves. Shape letters: N batch, C channels, H×W plane, K output channels, R×S filter.
/// </summary>
internal static class CudnnDescriptors
{
    public static CudnnTensorDescriptorHandle Tensor4d(int n, int c, int h, int w)
    {
        var d = CudnnTensorDescriptorHandle.Create();
        try
        {
            CudnnException.Check(Cudnn.cudnnSetTensor4dDescriptor(d.DangerousGetHandle(),
                cudnnTensorFormat_t.CUDNN_TENSOR_NCHW, cudnnDataType_t.CUDNN_DATA_FLOAT, n, c, h, w));
            return d;
        }
        catch
        {
            d.Dispose();
            throw;
        }
    }

    public static CudnnFilterDescriptorHandle Filter4d(int k, int c, int r, int s)
    {
        var d = CudnnFilterDescriptorHandle.Create();
        try
        {
            CudnnException.Check(Cudnn.cudnnSetFilter4dDescriptor(d.DangerousGetHandle(),
                cudnnDataType_t.CUDNN_DATA_FLOAT, cudnnTensorFormat_t.CUDNN_TENSOR_NCHW, k, c, r, s));
            return d;
        }
        catch
        {
            d.Dispose();
            throw;
        }
    }

    /// <summary>Cross-correlation (what frameworks call convolution), no dilation, float compute.</summary>
    public static CudnnConvolutionDescriptorHandle Convolution2d(int stride, int padding, cudnnMathType_t math)
    {
        var d = CudnnConvolutionDescriptorHandle.Create();
        try
        {
            CudnnException.Check(Cudnn.cudnnSetConvolution2dDescriptor(d.DangerousGetHandle(), padding, padding,
                stride, stride, 1, 1, cudnnConvolutionMode_t.CUDNN_CROSS_CORRELATION,
                cudnnDataType_t.CUDNN_DATA_FLOAT));
            CudnnException.Check(Cudnn.cudnnSetConvolutionMathType(d.DangerousGetHandle(), math));
            return d;
        }
        catch
        {
            d.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An N×C×... tensor as the 4-D view cuDNN's spatial batch norm wants: N×C×H×W as is, N×C as N×C×1×1,
    /// and any trailing axes folded into H (their product) with W = 1.
    /// </summary>
    public static (int N, int C, int H, int W) AsNchw(ReadOnlySpan<int> dims)
    {
        if (dims.Length == 4) return (dims[0], dims[1], dims[2], dims[3]);
        long rest = 1;
        for (int i = 2; i < dims.Length; i++) rest *= dims[i];
        return (dims[0], dims[1], checked((int)rest), 1);
    }
}
