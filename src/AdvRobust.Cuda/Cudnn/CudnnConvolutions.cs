using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>
/// 2-D convolution on cuDNN's legacy API: forward y = x ⋆ w, backward data dx = dy ⋆ᵀ w, backward filter
/// dw = x ⋆ᵀ dy, each overwriting its output (alpha = 1, beta = 0). Shape letters: x N×C×H×W, w K×C×R×S,
/// y N×K×P×Q, all float32 NCHW. Descriptors are built once per (x, w, stride/padding) and kept; the algorithm is
/// chosen once per <see cref="ConvAlgorithmKey"/> by cudnnFind*AlgorithmEx; every call shares one grow-only
/// workspace. TF32 tensor cores only when the context allows them (CUDNN_DEFAULT_MATH); otherwise CUDNN_FMA_MATH.
/// The fused forward y = relu(x ⋆ w + bias) is cudnnConvolutionBiasActivationForward with alpha2 = 0 and z = y (as
/// PyTorch's cudnn_convolution_relu calls it), on the algorithm found for the plain forward of the same shapes: the
/// cuDNN documentation restricts CUDNN_ACTIVATION_IDENTITY to IMPLICIT_PRECOMP_GEMM, not RELU.
/// </summary>
public sealed unsafe class CudnnConvolutions : IDisposable
{
    /// <summary>The largest workspace an algorithm search may use (it skips algorithms that need more).</summary>
    public const long MaxSearchWorkspaceBytes = 1L << 30;

    private readonly CudaContext _context;
    private readonly CudnnWorkspace _workspace;
    private readonly Dictionary<(Shape X, Shape W, ConvParams P), Plan> _plans = new();
    private readonly Dictionary<int, CudnnTensorDescriptorHandle> _biases = new();
    private readonly Lock _gate = new();
    private CudnnActivationDescriptorHandle? _relu;

    public CudnnConvolutions(CudaContext context)
    {
        _context = context;
        _workspace = new CudnnWorkspace(context);
    }

    /// <summary>Accept only deterministic algorithms (off by default; part of the cache key). See CudaBackend.Deterministic.</summary>
    public bool Deterministic { get; set; }

    public ConvAlgorithmCache Algorithms { get; } = new();

    /// <summary>Bytes held by the shared workspace.</summary>
    public long WorkspaceBytes
    {
        get { lock (_gate) return _workspace.Bytes; }
    }

    public void Forward(ConvParams p, Shape xs, Shape ws, ulong x, ulong w, ulong y) =>
        Run(ConvPass.Forward, p, xs, ws, x, w, y);

    /// <summary>y = relu(x ⋆ w + bias[k]) in one cuDNN call; bias is float[K].</summary>
    public void ForwardBiasRelu(ConvParams p, Shape xs, Shape ws, ulong x, ulong w, ulong bias, ulong y) =>
        Run(ConvPass.Forward, p, xs, ws, x, w, y, bias);

    public void BackwardData(ConvParams p, Shape xs, Shape ws, ulong dy, ulong w, ulong dx) =>
        Run(ConvPass.BackwardData, p, xs, ws, dx, w, dy);

    public void BackwardFilter(ConvParams p, Shape xs, Shape ws, ulong x, ulong dy, ulong dw) =>
        Run(ConvPass.BackwardFilter, p, xs, ws, x, dw, dy);

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var plan in _plans.Values) plan.Dispose();
            _plans.Clear();
            foreach (var bias in _biases.Values) bias.Dispose();
            _biases.Clear();
            _relu?.Dispose();
            _relu = null;
            Algorithms.Clear();
            _workspace.Dispose();
        }
    }

    /// <summary>x, w, y: the x-, w- and y-shaped buffers of the pass, whichever of them it reads or writes; a nonzero
    /// bias (forward only) fuses the bias add and ReLU.</summary>
    private void Run(ConvPass pass, ConvParams p, Shape xs, Shape ws, ulong x, ulong w, ulong y, ulong bias = 0)
    {
        lock (_gate)
        {
            _context.MakeCurrent();
            bool tf32 = _context.AllowTf32;
            var plan = PlanFor(xs, ws, p);
            var key = new ConvAlgorithmKey(xs, ws, p, tf32, Deterministic, pass);
            if (!Algorithms.TryGet(key, out var algo))
            {
                algo = Find(plan, pass, tf32, Deterministic, x, w, y, key);
                Algorithms.Add(key, algo);
            }
            nint handle = _context.Cudnn.DangerousGetHandle();
            nint conv = plan.Conv.DangerousGetHandle();
            CudnnException.Check(Cudnn.cudnnSetConvolutionMathType(conv, algo.MathType));
            ulong space = _workspace.Ensure(algo.WorkspaceBytes);
            nuint bytes = (nuint)algo.WorkspaceBytes;
            float one = 1f, zero = 0f;
            nint xd = plan.X.DangerousGetHandle(), wd = plan.W.DangerousGetHandle(), yd = plan.Y.DangerousGetHandle();
            switch (pass)
            {
                case ConvPass.Forward when bias != 0:
                    _relu ??= CudnnActivationDescriptorHandle.Relu();
                    CudnnException.Check(Cudnn.cudnnConvolutionBiasActivationForward(handle, &one, xd, x, wd, w, conv,
                        (cudnnConvolutionFwdAlgo_t)algo.Algo, space, bytes, &zero, yd, y,
                        BiasDescriptor(ws[0]).DangerousGetHandle(), bias, _relu.DangerousGetHandle(), yd, y));
                    break;
                case ConvPass.Forward:
                    CudnnException.Check(Cudnn.cudnnConvolutionForward(handle, &one, xd, x, wd, w, conv,
                        (cudnnConvolutionFwdAlgo_t)algo.Algo, space, bytes, &zero, yd, y));
                    break;
                case ConvPass.BackwardData:
                    CudnnException.Check(Cudnn.cudnnConvolutionBackwardData(handle, &one, wd, w, yd, y, conv,
                        (cudnnConvolutionBwdDataAlgo_t)algo.Algo, space, bytes, &zero, xd, x));
                    break;
                default:
                    CudnnException.Check(Cudnn.cudnnConvolutionBackwardFilter(handle, &one, xd, x, yd, y, conv,
                        (cudnnConvolutionBwdFilterAlgo_t)algo.Algo, space, bytes, &zero, wd, w));
                    break;
            }
        }
    }

    /// <summary>The 1×K×1×1 descriptor of a bias over K output channels.</summary>
    private CudnnTensorDescriptorHandle BiasDescriptor(int k)
    {
        if (!_biases.TryGetValue(k, out var d)) _biases[k] = d = CudnnDescriptors.Tensor4d(1, k, 1, 1);
        return d;
    }

    private Plan PlanFor(Shape xs, Shape ws, ConvParams p)
    {
        if (_plans.TryGetValue((xs, ws, p), out var plan)) return plan;
        plan = Plan.Create(xs, ws, p);
        _plans[(xs, ws, p)] = plan;
        return plan;
    }

    /// <summary>
    /// Times every algorithm of the pass on the real buffers (cudnnFind*Ex writes the pass's output, which the real
    /// call then overwrites) with a temporary search workspace as large as the hungriest algorithm wants, capped at
    /// <see cref="MaxSearchWorkspaceBytes"/> and half the free device memory.
    /// </summary>
    private ConvAlgorithm Find(Plan plan, ConvPass pass, bool tf32, bool deterministic, ulong x, ulong w, ulong y,
        ConvAlgorithmKey key)
    {
        nint handle = _context.Cudnn.DangerousGetHandle();
        nint conv = plan.Conv.DangerousGetHandle();
        nint xd = plan.X.DangerousGetHandle(), wd = plan.W.DangerousGetHandle(), yd = plan.Y.DangerousGetHandle();
        CudnnException.Check(Cudnn.cudnnSetConvolutionMathType(conv,
            tf32 ? cudnnMathType_t.CUDNN_DEFAULT_MATH : cudnnMathType_t.CUDNN_FMA_MATH));
        long wanted = 0;
        int count = pass switch
        {
            ConvPass.Forward => (int)cudnnConvolutionFwdAlgo_t.CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
            ConvPass.BackwardData => (int)cudnnConvolutionBwdDataAlgo_t.CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
            _ => (int)cudnnConvolutionBwdFilterAlgo_t.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
        };
        for (int a = 0; a < count; a++)
        {
            nuint size = 0;
            var status = pass switch
            {
                ConvPass.Forward => Cudnn.cudnnGetConvolutionForwardWorkspaceSize(handle, xd, wd, conv, yd,
                    (cudnnConvolutionFwdAlgo_t)a, out size),
                ConvPass.BackwardData => Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(handle, wd, yd, conv, xd,
                    (cudnnConvolutionBwdDataAlgo_t)a, out size),
                _ => Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, xd, yd, conv, wd,
                    (cudnnConvolutionBwdFilterAlgo_t)a, out size),
            };
            if (status == cudnnStatus_t.CUDNN_STATUS_SUCCESS) wanted = Math.Max(wanted, (long)size);
        }
        long cap = Math.Min(Math.Min(wanted, MaxSearchWorkspaceBytes), _context.MemoryInfo().Free / 2);
        using var search = _context.Allocate(Math.Max(cap, 4));
        var results = new (int, cudnnStatus_t, float, long, cudnnDeterminism_t, cudnnMathType_t)[count];
        int returned = 0;
        switch (pass)
        {
            case ConvPass.Forward:
            {
                var perf = stackalloc cudnnConvolutionFwdAlgoPerf_t[count];
                CudnnException.Check(Cudnn.cudnnFindConvolutionForwardAlgorithmEx(handle, xd, x, wd, w, conv, yd, y,
                    count, &returned, perf, search.Pointer, (nuint)cap));
                for (int i = 0; i < returned; i++)
                    results[i] = ((int)perf[i].algo, perf[i].status, perf[i].time, (long)perf[i].memory,
                        perf[i].determinism, perf[i].mathType);
                break;
            }
            case ConvPass.BackwardData:
            {
                var perf = stackalloc cudnnConvolutionBwdDataAlgoPerf_t[count];
                CudnnException.Check(Cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx(handle, wd, w, yd, y, conv, xd,
                    x, count, &returned, perf, search.Pointer, (nuint)cap));
                for (int i = 0; i < returned; i++)
                    results[i] = ((int)perf[i].algo, perf[i].status, perf[i].time, (long)perf[i].memory,
                        perf[i].determinism, perf[i].mathType);
                break;
            }
            default:
            {
                var perf = stackalloc cudnnConvolutionBwdFilterAlgoPerf_t[count];
                CudnnException.Check(Cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, xd, x, yd, y, conv,
                    wd, w, count, &returned, perf, search.Pointer, (nuint)cap));
                for (int i = 0; i < returned; i++)
                    results[i] = ((int)perf[i].algo, perf[i].status, perf[i].time, (long)perf[i].memory,
                        perf[i].determinism, perf[i].mathType);
                break;
            }
        }
        return ConvAlgorithmCache.Pick(results.AsSpan(0, returned), tf32, deterministic, key.ToString());
    }

    /// <summary>Descriptors of one (x, w, stride/padding): x, w, the convolution, and y (dy when backward).</summary>
    private sealed class Plan : IDisposable
    {
        private Plan(CudnnTensorDescriptorHandle x, CudnnFilterDescriptorHandle w,
            CudnnConvolutionDescriptorHandle conv, CudnnTensorDescriptorHandle y)
        {
            X = x;
            W = w;
            Conv = conv;
            Y = y;
        }

        public CudnnTensorDescriptorHandle X { get; }
        public CudnnFilterDescriptorHandle W { get; }
        public CudnnConvolutionDescriptorHandle Conv { get; }
        public CudnnTensorDescriptorHandle Y { get; }

        public static Plan Create(Shape xs, Shape ws, ConvParams p)
        {
            var y = Ops.Conv2dOutputShape(p, xs, ws);
            CudnnTensorDescriptorHandle? xd = null, yd = null;
            CudnnFilterDescriptorHandle? wd = null;
            CudnnConvolutionDescriptorHandle? cd = null;
            try
            {
                xd = CudnnDescriptors.Tensor4d(xs[0], xs[1], xs[2], xs[3]);
                wd = CudnnDescriptors.Filter4d(ws[0], ws[1], ws[2], ws[3]);
                cd = CudnnDescriptors.Convolution2d(p.Stride, p.Padding, cudnnMathType_t.CUDNN_FMA_MATH);
                CudnnException.Check(Cudnn.cudnnGetConvolution2dForwardOutputDim(cd.DangerousGetHandle(),
                    xd.DangerousGetHandle(), wd.DangerousGetHandle(), out int n, out int k, out int ph, out int qw));
                if (n != y[0] || k != y[1] || ph != y[2] || qw != y[3])
                    throw new InvalidOperationException(
                        $"cuDNN computes output [{n}, {k}, {ph}, {qw}] for x {xs}, w {ws}, {p}; the engine " +
                        $"expects {y}");
                yd = CudnnDescriptors.Tensor4d(y[0], y[1], y[2], y[3]);
                return new Plan(xd, wd, cd, yd);
            }
            catch
            {
                xd?.Dispose();
                wd?.Dispose();
                cd?.Dispose();
                yd?.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            X.Dispose();
            W.Dispose();
            Conv.Dispose();
            Y.Dispose();
        }
    }
}
