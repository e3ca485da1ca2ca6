using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

public sealed partial class CudaBackend
{
    public void ScatterAddRows(Tensor src, Tensor index, Tensor dst) =>
        Kernels.ScatterAddRows(P(src), P(index), P(dst), src.Shape[0], src.Shape[1]);
}
