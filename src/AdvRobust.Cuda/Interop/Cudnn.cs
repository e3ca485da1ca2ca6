using System.Runtime.InteropServices;

namespace AdvRobust.Cuda.Interop;

// Raw declarations of cuDNN 9 (headers of 9.14): the handle, stream, version and errors (cudnn_graph.h), and the
// legacy descriptor API for convolution (cudnn_cnn.h) and batch norm (cudnn_ops.h). Every symbol below is exported by
// the dispatch library libcudnn.so.9 (it forwards to libcudnn_ops/_cnn), which is the one NativeLibraries loads.
// C names verbatim, blittable types, no logic. Descriptors are opaque pointers (nint); device pointers are ulong.

#pragma warning disable CA1707, IDE1006
public enum cudnnStatus_t
{
    CUDNN_STATUS_SUCCESS = 0,
    CUDNN_STATUS_NOT_INITIALIZED = 1001,
    CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH = 1002,
    CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH = 1003,
    CUDNN_STATUS_DEPRECATED = 1004,
    CUDNN_STATUS_LICENSE_ERROR = 1005,
    CUDNN_STATUS_RUNTIME_IN_PROGRESS = 1006,
    CUDNN_STATUS_RUNTIME_FP_OVERFLOW = 1007,
    CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED = 1008,
    CUDNN_STATUS_BAD_PARAM = 2000,
    CUDNN_STATUS_INVALID_VALUE = 2001,
    CUDNN_STATUS_BAD_PARAM_NULL_POINTER = 2002,
    CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER = 2003,
    CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED = 2004,
    CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND = 2005,
    CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT = 2006,
    CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH = 2007,
    CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH = 2008,
    CUDNN_STATUS_NOT_SUPPORTED = 3000,
    CUDNN_STATUS_NOT_SUPPORTED_SHAPE = 3002,
    CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE = 3003,
    CUDNN_STATUS_NOT_SUPPORTED_LAYOUT = 3004,
    CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH = 3007,
    CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT = 3010,
    CUDNN_STATUS_NOT_SUPPORTED_PADDING = 3011,
    CUDNN_STATUS_INTERNAL_ERROR = 4000,
    CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED = 4003,
    CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED = 4004,
    CUDNN_STATUS_EXECUTION_FAILED = 5000,
    CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER = 5001,
    CUDNN_STATUS_EXECUTION_FAILED_CUBLAS = 5002,
    CUDNN_STATUS_EXECUTION_FAILED_CUDART = 5003,
}

public enum cudnnDataType_t { CUDNN_DATA_FLOAT = 0, CUDNN_DATA_DOUBLE = 1, CUDNN_DATA_HALF = 2 }

public enum cudnnTensorFormat_t { CUDNN_TENSOR_NCHW = 0, CUDNN_TENSOR_NHWC = 1 }

public enum cudnnMathType_t
{
    CUDNN_DEFAULT_MATH = 0,
    CUDNN_TENSOR_OP_MATH = 1,
    CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2,
    CUDNN_FMA_MATH = 3,
}

public enum cudnnConvolutionMode_t { CUDNN_CONVOLUTION = 0, CUDNN_CROSS_CORRELATION = 1 }

public enum cudnnDeterminism_t { CUDNN_NON_DETERMINISTIC = 0, CUDNN_DETERMINISTIC = 1 }

public enum cudnnConvolutionFwdAlgo_t
{
    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM = 0,
    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1,
    CUDNN_CONVOLUTION_FWD_ALGO_GEMM = 2,
    CUDNN_CONVOLUTION_FWD_ALGO_DIRECT = 3,
    CUDNN_CONVOLUTION_FWD_ALGO_FFT = 4,
    CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING = 5,
    CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD = 6,
    CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED = 7,
    CUDNN_CONVOLUTION_FWD_ALGO_COUNT = 8,
}

public enum cudnnConvolutionBwdDataAlgo_t
{
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 = 0,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 = 1,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT = 2,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING = 3,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD = 4,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED = 5,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT = 6,
}

public enum cudnnConvolutionBwdFilterAlgo_t
{
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 = 0,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 = 1,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT = 2,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3 = 3,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD = 4,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED = 5,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING = 6,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT = 7,
}

public enum cudnnBatchNormMode_t
{
    CUDNN_BATCHNORM_PER_ACTIVATION = 0,
    CUDNN_BATCHNORM_SPATIAL = 1,
    CUDNN_BATCHNORM_SPATIAL_PERSISTENT = 2,
}

public enum cudnnActivationMode_t
{
    CUDNN_ACTIVATION_SIGMOID = 0,
    CUDNN_ACTIVATION_RELU = 1,
    CUDNN_ACTIVATION_TANH = 2,
    CUDNN_ACTIVATION_CLIPPED_RELU = 3,
    CUDNN_ACTIVATION_ELU = 4,
    CUDNN_ACTIVATION_IDENTITY = 5,
}

public enum cudnnNanPropagation_t { CUDNN_NOT_PROPAGATE_NAN = 0, CUDNN_PROPAGATE_NAN = 1 }

// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: 48 bytes, memory at offset 16 (size_t after three 4-byte
// fields), determinism at 24, mathType at 28, int reserved[3] at 32 (checked with clang against cudnn_cnn.h 9.14).
[StructLayout(LayoutKind.Sequential)]
public struct cudnnConvolutionFwdAlgoPerf_t
{
    public cudnnConvolutionFwdAlgo_t algo;
    public cudnnStatus_t status;
    public float time;
    public nuint memory;
    public cudnnDeterminism_t determinism;
    public cudnnMathType_t mathType;
    public int reserved0, reserved1, reserved2;
}

[StructLayout(LayoutKind.Sequential)]
public struct cudnnConvolutionBwdDataAlgoPerf_t
{
    public cudnnConvolutionBwdDataAlgo_t algo;
    public cudnnStatus_t status;
    public float time;
    public nuint memory;
    public cudnnDeterminism_t determinism;
    public cudnnMathType_t mathType;
    public int reserved0, reserved1, reserved2;
}

[StructLayout(LayoutKind.Sequential)]
public struct cudnnConvolutionBwdFilterAlgoPerf_t
{
    public cudnnConvolutionBwdFilterAlgo_t algo;
    public cudnnStatus_t status;
    public float time;
    public nuint memory;
    public cudnnDeterminism_t determinism;
    public cudnnMathType_t mathType;
    public int reserved0, reserved1, reserved2;
}

public static unsafe partial class Cudnn
{
    private const string Lib = NativeLibraries.Cudnn;

    // ---- cudnn_graph.h: handle, stream, version, errors ----
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnCreate(out nint handle);
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnDestroy(nint handle);
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnSetStream(nint handle, nint streamId);
    [LibraryImport(Lib)] public static partial nuint cudnnGetVersion();
    [LibraryImport(Lib)] public static partial nuint cudnnGetCudartVersion();
    [LibraryImport(Lib)] public static partial nint cudnnGetErrorString(cudnnStatus_t status);
    [LibraryImport(Lib)] public static partial void cudnnGetLastErrorString(byte* message, nuint max_size);

    // ---- cudnn_ops.h: tensor and filter descriptors ----
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnCreateTensorDescriptor(out nint tensorDesc);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnSetTensor4dDescriptor(nint tensorDesc, cudnnTensorFormat_t format,
        cudnnDataType_t dataType, int n, int c, int h, int w);

    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnDestroyTensorDescriptor(nint tensorDesc);
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnCreateFilterDescriptor(out nint filterDesc);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnSetFilter4dDescriptor(nint filterDesc, cudnnDataType_t dataType,
        cudnnTensorFormat_t format, int k, int c, int h, int w);

    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnDestroyFilterDescriptor(nint filterDesc);

    // ---- cudnn_ops.h: activation descriptor ----
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnCreateActivationDescriptor(out nint activationDesc);
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnDestroyActivationDescriptor(nint activationDesc);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnSetActivationDescriptor(nint activationDesc, cudnnActivationMode_t mode,
        cudnnNanPropagation_t reluNanOpt, double coef);

    // ---- cudnn_cnn.h: convolution descriptor ----
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnCreateConvolutionDescriptor(out nint convDesc);
    [LibraryImport(Lib)] public static partial cudnnStatus_t cudnnDestroyConvolutionDescriptor(nint convDesc);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnSetConvolutionMathType(nint convDesc, cudnnMathType_t mathType);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnSetConvolution2dDescriptor(nint convDesc, int pad_h, int pad_w, int u,
        int v, int dilation_h, int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(nint convDesc, nint inputTensorDesc,
        nint filterDesc, out int n, out int c, out int h, out int w);

    // ---- cudnn_cnn.h: algorithm search and workspace sizes ----
    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(nint handle, nint xDesc, ulong x,
        nint wDesc, ulong w, nint convDesc, nint yDesc, ulong y, int requestedAlgoCount, int* returnedAlgoCount,
        cudnnConvolutionFwdAlgoPerf_t* perfResults, ulong workSpace, nuint workSpaceSizeInBytes);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(nint handle, nint wDesc, ulong w,
        nint dyDesc, ulong dy, nint convDesc, nint dxDesc, ulong dx, int requestedAlgoCount, int* returnedAlgoCount,
        cudnnConvolutionBwdDataAlgoPerf_t* perfResults, ulong workSpace, nuint workSpaceSizeInBytes);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(nint handle, nint xDesc, ulong x,
        nint dyDesc, ulong y, nint convDesc, nint dwDesc, ulong dw, int requestedAlgoCount, int* returnedAlgoCount,
        cudnnConvolutionBwdFilterAlgoPerf_t* perfResults, ulong workSpace, nuint workSpaceSizeInBytes);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint xDesc, nint wDesc,
        nint convDesc, nint yDesc, cudnnConvolutionFwdAlgo_t algo, out nuint sizeInBytes);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(nint handle, nint wDesc,
        nint dyDesc, nint convDesc, nint dxDesc, cudnnConvolutionBwdDataAlgo_t algo, out nuint sizeInBytes);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(nint handle, nint xDesc,
        nint dyDesc, nint convDesc, nint gradDesc, cudnnConvolutionBwdFilterAlgo_t algo, out nuint sizeInBytes);

    // ---- cudnn_cnn.h: the three passes (output = alpha·op(inputs) + beta·output; alpha, beta are float*) ----
    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnConvolutionForward(nint handle, void* alpha, nint xDesc, ulong x,
        nint wDesc, ulong w, nint convDesc, cudnnConvolutionFwdAlgo_t algo, ulong workSpace,
        nuint workSpaceSizeInBytes, void* beta, nint yDesc, ulong y);

    /// <summary>y = act(alpha1·conv(x) + alpha2·z + bias); z may be y.</summary>
    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnConvolutionBiasActivationForward(nint handle, void* alpha1, nint xDesc,
        ulong x, nint wDesc, ulong w, nint convDesc, cudnnConvolutionFwdAlgo_t algo, ulong workSpace,
        nuint workSpaceSizeInBytes, void* alpha2, nint zDesc, ulong z, nint biasDesc, ulong bias,
        nint activationDesc, nint yDesc, ulong y);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnConvolutionBackwardData(nint handle, void* alpha, nint wDesc, ulong w,
        nint dyDesc, ulong dy, nint convDesc, cudnnConvolutionBwdDataAlgo_t algo, ulong workSpace,
        nuint workSpaceSizeInBytes, void* beta, nint dxDesc, ulong dx);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnConvolutionBackwardFilter(nint handle, void* alpha, nint xDesc, ulong x,
        nint dyDesc, ulong dy, nint convDesc, cudnnConvolutionBwdFilterAlgo_t algo, ulong workSpace,
        nuint workSpaceSizeInBytes, void* beta, nint dwDesc, ulong dw);

    // ---- cudnn_ops.h: batch normalization ----
    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnBatchNormalizationForwardTraining(nint handle, cudnnBatchNormMode_t mode,
        void* alpha, void* beta, nint xDesc, ulong x, nint yDesc, ulong y, nint bnScaleBiasMeanVarDesc,
        ulong bnScale, ulong bnBias, double exponentialAverageFactor, ulong resultRunningMean,
        ulong resultRunningVariance, double epsilon, ulong resultSaveMean, ulong resultSaveInvVariance);

    [LibraryImport(Lib)]
    public static partial cudnnStatus_t cudnnBatchNormalizationBackward(nint handle, cudnnBatchNormMode_t mode,
        void* alphaDataDiff, void* betaDataDiff, void* alphaParamDiff, void* betaParamDiff, nint xDesc, ulong x,
        nint dyDesc, ulong dy, nint dxDesc, ulong dx, nint dBnScaleBiasDesc, ulong bnScale, ulong dBnScaleResult,
        ulong dBnBiasResult, double epsilon, ulong savedMean, ulong savedInvVariance);
}
#pragma warning restore CA1707, IDE1006
