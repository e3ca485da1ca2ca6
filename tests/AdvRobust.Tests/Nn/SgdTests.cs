using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// The fused SGD update on the CPU: g = grad + wd·param; buf = m·buf + g; param −= lr·(nesterov ? g + m·buf : buf).
public class SgdTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase(false, 0.94f, 0.6f)]
    [TestCase(true, 0.886f, 0.6f)]
    public void SgdStep_FirstStep_MatchesHandValues(bool nesterov, float expectedParam, float expectedBuffer)
    {
        // param 1, grad 0.5, wd 0.1: g = 0.6, buf = 0.6; plain: 1 − 0.1·0.6; Nesterov: 1 − 0.1·(0.6 + 0.9·0.6).
        using var param = Tensor.FromArray(Cpu, new[] { 1f }, 1);
        using var grad = Tensor.FromArray(Cpu, new[] { 0.5f }, 1);
        using var buf = Tensor.Zeros(Cpu, 1);
        Ops.SgdStep(new SgdParams(0.1f, 0.9f, 0.1f, nesterov), param, grad, buf);
        Assert.That(param.ToArray()[0], Is.EqualTo(expectedParam).Within(1e-7));
        Assert.That(buf.ToArray()[0], Is.EqualTo(expectedBuffer).Within(1e-7));
    }

    [TestCase(0.9f, 5e-4f, false)]
    [TestCase(0.9f, 5e-4f, true)]
    [TestCase(0f, 0f, false)]
    [TestCase(0.5f, 0.1f, true)]
    public void SgdStep_SeveralSteps_MatchesScalarLoop(float momentum, float weightDecay, bool nesterov)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 37, steps = 4;
        var p = new SgdParams(0.05f, momentum, weightDecay, nesterov);
        float[] start = rng.Normal(n);
        var grads = Enumerable.Range(0, steps).Select(_ => rng.Normal(n)).ToArray();
        using var param = Tensor.FromArray(Cpu, start, n);
        using var buf = Tensor.Zeros(Cpu, n);
        foreach (var g in grads)
        {
            using var grad = Tensor.FromArray(Cpu, g, n);
            Ops.SgdStep(p, param, grad, buf);
        }

        // PyTorch's torch.optim.SGD (dampening 0), element by element in double.
        var expected = new float[n];
        for (int i = 0; i < n; i++)
        {
            double w = start[i], b = 0;
            foreach (var g in grads)
            {
                double d = g[i] + (double)weightDecay * w;
                b = momentum * b + d;
                w -= p.LearningRate * (nesterov ? d + momentum * b : b);
            }
            expected[i] = (float)w;
        }
        AssertClose.All(expected, param.ToArray(), 1e-6, 1e-5, $"param, seed {rng.Seed}");
    }
}
