using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

public sealed partial class CudaBackend
{
    public void GaussianNoise(Tensor x, Tensor y, float sigma, ulong seed, uint stream, uint firstSample,
        Tensor? sampleIds) =>
        Kernels.GaussianNoise(P(x), P(y), sampleIds is null ? 0 : P(sampleIds), sigma, y.Shape[0], PerSample(y),
            x.Shape[0], seed, stream, firstSample);

    public void GaussianNoise(Tensor x, Tensor y, float sigma, Tensor key, Tensor? sampleIds) =>
        Kernels.GaussianNoise(P(x), P(y), sampleIds is null ? 0 : P(sampleIds), sigma, y.Shape[0], PerSample(y),
            x.Shape[0], 0, 0, 0, P(key));
}
