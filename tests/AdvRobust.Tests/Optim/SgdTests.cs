using AdvRobust.Core;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Optim;

/// <summary>
/// Sgd against PyTorch's update written out in double here (dampening 0): g = grad + wd·p; buf = m·buf + g
/// (buf = g on the first step); p −= lr·(nesterov ? g + m·buf : buf). The subject is a Linear layer: weight 3×4
/// (rank 2), bias 3 (rank 1).
/// </summary>
public class SgdTests
{
    private static IBackend Cpu => Backends.Cpu;

    private sealed class Reference(double[] p)
    {
        private double[]? _buf;
        public double[] P { get; } = p;

        public void Step(float[] grad, double lr, double m, double wd, bool nesterov)
        {
            _buf ??= new double[P.Length];
            for (int i = 0; i < P.Length; i++)
            {
                double g = grad[i] + wd * P[i];
                _buf[i] = m * _buf[i] + g;
                P[i] -= lr * (nesterov ? g + m * _buf[i] : _buf[i]);
            }
        }
    }

    private static void RunAndCompare(string test, Func<Linear, Sgd> makeSgd, Func<int, double> lrAt, double m,
        double wdWeight, double wdBias, bool nesterov, int steps = 4)
    {
        var rng = new SeededRandom(test);
        using var layer = new Linear(new ParameterInit(Cpu, 1), 4, 3);
        var sgd = makeSgd(layer);
        var w = new Reference(layer.Weight.Value.ToArray().Select(v => (double)v).ToArray());
        var b = new Reference(layer.Bias!.Value.ToArray().Select(v => (double)v).ToArray());
        for (int t = 0; t < steps; t++)
        {
            float[] gw = rng.Normal(12), gb = rng.Normal(3);
            sgd.ZeroGrad();
            using (var tw = Tensor.FromArray(Cpu, gw, 3, 4)) layer.Weight.AccumulateGrad(tw);
            using (var tb = Tensor.FromArray(Cpu, gb, 3)) layer.Bias.AccumulateGrad(tb);
            Assert.That(sgd.LearningRate, Is.EqualTo((float)lrAt(t)).Within(1e-9), $"lr at step {t}");
            sgd.Step();
            w.Step(gw, (float)lrAt(t), (float)m, (float)wdWeight, nesterov);
            b.Step(gb, (float)lrAt(t), (float)m, (float)wdBias, nesterov);
            AssertClose.All(w.P.Select(v => (float)v).ToArray(), layer.Weight.Value.ToArray(), 1e-6, 1e-5,
                $"weight, step {t}");
            AssertClose.All(b.P.Select(v => (float)v).ToArray(), layer.Bias.Value.ToArray(), 1e-6, 1e-5,
                $"bias, step {t}");
        }
        Assert.That(sgd.Iteration, Is.EqualTo(steps));
    }

    [Test]
    public void Step_MomentumAndWeightDecay_MatchesPyTorchUpdate() =>
        RunAndCompare(nameof(Step_MomentumAndWeightDecay_MatchesPyTorchUpdate),
            l => new Sgd(l, 0.1f, momentum: 0.9f, weightDecay: 5e-4f), _ => 0.1, 0.9, 5e-4, 5e-4, false);

    [Test]
    public void Step_Nesterov_MatchesPyTorchUpdate() =>
        RunAndCompare(nameof(Step_Nesterov_MatchesPyTorchUpdate),
            l => new Sgd(l, 0.05f, momentum: 0.9f, weightDecay: 1e-2f, nesterov: true),
            _ => 0.05, 0.9, 1e-2, 1e-2, true);

    [Test]
    public void Step_NoMomentum_IsPlainGradientDescent() =>
        RunAndCompare(nameof(Step_NoMomentum_IsPlainGradientDescent),
            l => new Sgd(l, 0.3f, momentum: 0f), _ => 0.3, 0, 0, 0, false);

    [Test]
    public void Step_DecayWeightsOnly_SkipsDecayOnRankOneParameters() =>
        RunAndCompare(nameof(Step_DecayWeightsOnly_SkipsDecayOnRankOneParameters),
            l => new Sgd(l, 0.1f, momentum: 0.9f, weightDecay: 0.05f, decayWeightsOnly: true),
            _ => 0.1, 0.9, 0.05, 0, false);

    [Test]
    public void Step_WithSchedule_UsesTheRateOfEachIteration()
    {
        var schedule = LrSchedule.Step(0.2f, [2], 0.1f).WithWarmup(2);
        RunAndCompare(nameof(Step_WithSchedule_UsesTheRateOfEachIteration),
            l => new Sgd(l, schedule, momentum: 0.5f), t => schedule.At(t), 0.5, 0, 0, false, steps: 6);
    }

    [Test]
    public void Step_FrozenParameterOrNoGradient_LeavesItUnchanged()
    {
        using var layer = new Linear(new ParameterInit(Cpu, 2), 4, 3);
        var before = (layer.Weight.Value.ToArray(), layer.Bias!.Value.ToArray());
        var sgd = new Sgd(layer, 0.5f, weightDecay: 0.1f);

        sgd.Step(); // no gradients at all yet
        layer.Bias.RequiresGrad = false;
        using (var g = Tensor.FromArray(Cpu, Enumerable.Repeat(1f, 3).ToArray(), 3)) layer.Bias.AccumulateGrad(g);
        sgd.Step();

        Assert.That(layer.Weight.Value.ToArray(), Is.EqualTo(before.Item1));
        Assert.That(layer.Bias.Value.ToArray(), Is.EqualTo(before.Item2));
        Assert.That(layer.Bias.Momentum, Is.Null);
        Assert.That(sgd.Iteration, Is.EqualTo(2));
    }

    [Test]
    public void Constructor_NesterovWithoutMomentum_Throws()
    {
        using var layer = new Linear(new ParameterInit(Cpu, 2), 2, 2);
        Assert.Throws<ArgumentException>(() => new Sgd(layer, 0.1f, momentum: 0f, nesterov: true));
        Assert.Throws<ArgumentException>(() => new Sgd(layer, 0.1f, weightDecay: -1f));
    }
}
