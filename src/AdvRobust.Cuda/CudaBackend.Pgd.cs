using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

public sealed partial class CudaBackend
{
    public void PgdStep(PgdNorm norm, Tensor x, Tensor x0, Tensor grad, PgdParams p)
    {
        if (norm == PgdNorm.Linf)
            Kernels.PgdLinfStep(P(x), P(x0), P(grad), p.Alpha, p.Eps, p.Lo, p.Hi, x.Length);
        else
            Kernels.PgdL2Step(P(x), P(x0), P(grad), p.Alpha, p.Eps, p.Lo, p.Hi, x.Shape[0], PerSample(x));
    }

    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, ulong seed, uint stream, uint firstSample)
    {
        if (norm == PgdNorm.Linf)
            Kernels.PgdLinfRandomStart(P(x), P(x0), p.Eps, p.Lo, p.Hi, x.Length, PerSample(x), seed, stream, firstSample);
        else
            Kernels.PgdL2RandomStart(P(x), P(x0), p.Eps, p.Lo, p.Hi, x.Shape[0], PerSample(x), seed, stream, firstSample);
    }

    public void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, Tensor key, Tensor sampleIds)
    {
        if (norm == PgdNorm.Linf)
            Kernels.PgdLinfRandomStart(P(x), P(x0), p.Eps, p.Lo, p.Hi, x.Length, PerSample(x), 0, 0, 0, P(key),
                P(sampleIds));
        else
            Kernels.PgdL2RandomStart(P(x), P(x0), p.Eps, p.Lo, p.Hi, x.Shape[0], PerSample(x), 0, 0, 0, P(key),
                P(sampleIds));
    }

    private static int PerSample(Tensor x) => checked((int)x.Shape.PerSample);
}
