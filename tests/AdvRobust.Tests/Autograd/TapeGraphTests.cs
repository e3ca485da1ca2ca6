using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Nn;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Autograd;

// A small CNN through F.* and Tape.Backward on the CPU: conv 3×3 (+ bias) → batch norm → ReLU → max pool 2 → flatten →
// linear → mean cross-entropy. Shape letters: x N×C×H×W = 2×2×4×4, conv K = 3, logits N×4.
// Gradients of the input and of every parameter are checked against central differences of the whole scalar loss.
public class TapeGraphTests
{
    private static IBackend Cpu => Backends.Cpu;
    private const float H = 1e-3f;

    /// <summary>The graph's inputs as plain arrays, so finite differences can perturb them in place.</summary>
    private sealed class Net
    {
        public required float[] X, ConvW, ConvB, Gamma, Beta, LinW, LinB;
        public required int[] Labels;

        public (string Name, float[] Values, int[] Dims)[] Parameters =>
        [
            ("conv.weight", ConvW, [3, 2, 3, 3]), ("conv.bias", ConvB, [3]), ("bn.weight", Gamma, [3]),
            ("bn.bias", Beta, [3]), ("fc.weight", LinW, [4, 12]), ("fc.bias", LinB, [4]),
        ];

        public static Net Draw(SeededRandom rng) => new()
        {
            X = rng.Uniform(2 * 2 * 4 * 4, 0f, 1f), ConvW = rng.Uniform(3 * 2 * 9, -0.5f, 0.5f),
            ConvB = rng.Normal(3, 0.1f),
            Gamma = rng.Uniform(3, 0.5f, 1.5f), Beta = rng.Normal(3, 0.2f), LinW = rng.Normal(4 * 12, 0.5f),
            LinB = rng.Normal(4, 0.1f), Labels = rng.Labels(2, 4),
        };
    }

    private sealed record Result(double Loss, float[] PreRelu, float[] PostRelu, float[]? XGrad,
        Dictionary<string, float[]?> ParamGrads);

    private static Result Run(Net net, bool backward, bool parameterGradients = true, bool trainingBn = true)
    {
        var parameters = net.Parameters
            .Select(p => new Parameter(p.Name, Tensor.FromArray(Cpu, p.Values, p.Dims))).ToArray();
        try
        {
            using var tape = new Tape(Cpu, parameterGradients);
            Variable P(string name) => tape.Param(parameters.Single(p => p.Name == name));
            var x = tape.Input(tape.Own(Tensor.FromArray(Cpu, net.X, 2, 2, 4, 4)));
            var labels = tape.Own(Tensor.FromArray(Cpu, net.Labels, 2));
            var runningMean = tape.Own(Tensor.Zeros(Cpu, 3));
            var runningVar = tape.Own(Tensor.FromArray(Cpu, new float[] { 0.5f, 1f, 2f }, 3));
            var conv = F.Conv2d(tape, x, P("conv.weight"), new ConvParams(1, 1));
            conv = F.ChannelAffine(tape, conv, null, P("conv.bias"));
            var bn = F.BatchNorm(tape, conv, P("bn.weight"), P("bn.bias"), runningMean, runningVar, trainingBn,
                new BatchNormParams(1e-5f, 0.1f));
            var relu = F.Relu(tape, bn);
            var pooled = F.Flatten(tape, F.Pool2d(tape, relu, new PoolParams(PoolKind.Max, 2, 2)));
            var logits = F.Linear(tape, pooled, P("fc.weight"), P("fc.bias"));
            var loss = F.Mean(tape, F.CrossEntropy(tape, logits, labels));
            if (backward) tape.Backward(loss);
            return new Result(loss.Value.ToArray()[0], bn.Value.ToArray(), relu.Value.ToArray(), x.Grad?.ToArray(),
                parameters.ToDictionary(p => p.Name, p => p.Grad?.ToArray()));
        }
        finally
        {
            foreach (var p in parameters) p.Dispose();
        }
    }

    /// <summary>
    /// True when a step of H in any input cannot cross a kink: every ReLU input is at least 5e-3 from 0 and every
    /// pooling window with a positive maximum leads its runner-up by 5e-3 (a step of 1e-3 moves them by about 2e-3).
    /// </summary>
    private static bool IsSmooth(Result r)
    {
        const float margin = 5e-3f;
        if (r.PreRelu.Any(v => MathF.Abs(v) < margin)) return false;
        for (int plane = 0; plane < 2 * 3; plane++)
        for (int i = 0; i < 4; i += 2)
        for (int j = 0; j < 4; j += 2)
        {
            var window = new[] { (i, j), (i, j + 1), (i + 1, j), (i + 1, j + 1) }
                .Select(t => r.PostRelu[plane * 16 + t.Item1 * 4 + t.Item2]).OrderDescending().ToArray();
            if (window[0] > 0 && window[0] - window[1] < margin) return false;
        }
        return true;
    }

    private static Net SmoothNet(SeededRandom rng, bool trainingBn)
    {
        for (int tries = 0; tries < 100; tries++)
        {
            var net = Net.Draw(rng);
            if (IsSmooth(Run(net, backward: false, trainingBn: trainingBn))) return net;
        }
        Assert.Fail($"no smooth draw in 100 tries, seed {rng.Seed}");
        return null!;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Backward_ConvBnReluPoolLinearCe_MatchesFiniteDifference(bool trainingBn)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var net = SmoothNet(rng, trainingBn);
        var analytic = Run(net, backward: true, trainingBn: trainingBn);

        double Loss() => Run(net, backward: false, trainingBn: trainingBn).Loss;
        string seed = $"seed {rng.Seed}";
        AssertClose.All(FiniteDifference.Gradient(Loss, net.X, H), analytic.XGrad!, 1e-3, 1e-2, $"dx, {seed}");
        foreach (var (name, values, _) in net.Parameters)
        {
            var numeric = FiniteDifference.Gradient(Loss, values, H);
            AssertClose.All(numeric, analytic.ParamGrads[name]!, 1e-3, 1e-2, $"{name}, {seed}");
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Backward_AttackMode_GivesTheInputGradientAndNoParameterGradient(bool trainingBn)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        var net = Net.Draw(rng);
        var full = Run(net, backward: true, parameterGradients: true, trainingBn: trainingBn);
        var attack = Run(net, backward: true, parameterGradients: false, trainingBn: trainingBn);
        Assert.That(attack.XGrad, Is.Not.Null);
        Assert.That(attack.XGrad, Is.EqualTo(full.XGrad), "the input gradient must not depend on the mode");
        Assert.That(attack.XGrad!.Any(v => v != 0), Is.True, "the input gradient is all zero");
        Assert.That(full.ParamGrads.Values, Has.All.Not.Null);
        foreach (var (name, grad) in attack.ParamGrads) Assert.That(grad, Is.Null, name);
    }
}
