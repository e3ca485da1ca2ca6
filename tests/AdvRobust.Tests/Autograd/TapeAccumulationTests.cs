using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Nn;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Autograd;

// Gradient accumulation on the tape (a variable used twice, a parameter across passes) and eval-mode batch norm.
public class TapeAccumulationTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void Backward_LeafUsedTwice_AccumulatesBothUses()
    {
        // L = Σ x·x + Σ x: dL/dx = 2x + 1 (x feeds Mul twice and Sum once).
        float[] xs = { -1.5f, 0f, 0.25f, 2f };
        using var tape = new Tape(Cpu);
        var x = tape.Input(tape.Own(Tensor.FromArray(Cpu, xs, 4)));
        tape.Backward(F.Add(tape, F.Sum(tape, F.Mul(tape, x, x)), F.Sum(tape, x)));
        Assert.That(x.Grad!.ToArray(), Is.EqualTo(xs.Select(v => 2 * v + 1).ToArray()));
    }

    [Test]
    public void Backward_IntermediateUsedTwice_AccumulatesBeforeFlowingOn()
    {
        // h = 3x; L = Σ h·h + Σ h: dL/dh = 2h + 1, dL/dx = 3·(2h + 1) = 18x + 3.
        float[] xs = { -1f, 0.5f, 2f };
        using var tape = new Tape(Cpu);
        var x = tape.Input(tape.Own(Tensor.FromArray(Cpu, xs, 3)));
        var h = F.Scale(tape, x, 3f);
        tape.Backward(F.Add(tape, F.Sum(tape, F.Mul(tape, h, h)), F.Sum(tape, h)));
        Assert.That(x.Grad!.ToArray(), Is.EqualTo(xs.Select(v => 18 * v + 3).ToArray()));
    }

    [Test]
    public void Backward_ParameterUsedTwiceAndTwoPasses_AccumulatesUntilZeroGrad()
    {
        // L = Σ (p ⊙ c) + Σ p with p bound twice on the tape: dL/dp = c + 1 per pass; a second pass doubles it.
        using var p = new Parameter("w", Tensor.FromArray(Cpu, new[] { 1f, 2f }, 2));
        float[] c = { 3f, -4f };
        for (int pass = 0; pass < 2; pass++)
        {
            using var tape = new Tape(Cpu);
            var cv = tape.Constant(tape.Own(Tensor.FromArray(Cpu, c, 2)));
            tape.Backward(F.Add(tape, F.Sum(tape, F.Mul(tape, tape.Param(p), cv)), F.Sum(tape, tape.Param(p))));
        }
        Assert.That(p.Grad!.ToArray(), Is.EqualTo(new[] { 8f, -6f }));
        p.ZeroGrad();
        Assert.That(p.Grad!.ToArray(), Is.EqualTo(new[] { 0f, 0f }));
    }

    [Test]
    public void Backward_EvalBatchNorm_MatchesFiniteDifference()
    {
        // Eval mode: y = (x − runningMean)·γ/√(runningVar + ε) + β, with L = ⟨G, y⟩.
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 3, c = 2, h = 2, w = 3;
        float[] xs = rng.Normal(n * c * h * w), gammas = rng.Uniform(c, 0.5f, 1.5f), betas = rng.Normal(c);
        float[] mean = rng.Normal(c), var = rng.Uniform(c, 0.5f, 2f), g = rng.Normal(n * c * h * w);

        (float[] Y, float[]? Dx, float[]? Dgamma, float[]? Dbeta) Run(bool backward)
        {
            using var tape = new Tape(Cpu);
            var x = tape.Input(tape.Own(Tensor.FromArray(Cpu, xs, n, c, h, w)));
            var gamma = tape.Input(tape.Own(Tensor.FromArray(Cpu, gammas, c)));
            var beta = tape.Input(tape.Own(Tensor.FromArray(Cpu, betas, c)));
            var runningMean = tape.Own(Tensor.FromArray(Cpu, mean, c));
            var runningVar = tape.Own(Tensor.FromArray(Cpu, var, c));
            var y = F.BatchNorm(tape, x, gamma, beta, runningMean, runningVar, training: false,
                new BatchNormParams(1e-5f, 0.1f));
            if (backward)
            {
                var gv = tape.Constant(tape.Own(Tensor.FromArray(Cpu, g, n, c, h, w)));
                tape.Backward(F.Sum(tape, F.Mul(tape, y, gv)));
            }
            Assert.That(runningMean.ToArray(), Is.EqualTo(mean), "eval mode must not touch the running mean");
            return (y.Value.ToArray(), x.Grad?.ToArray(), gamma.Grad?.ToArray(), beta.Grad?.ToArray());
        }

        var analytic = Run(backward: true);
        var expectedY = xs.Select((v, i) =>
        {
            int ch = i / (h * w) % c;
            return (float)((v - mean[ch]) / Math.Sqrt(var[ch] + 1e-5) * gammas[ch] + betas[ch]);
        }).ToArray();
        AssertClose.All(expectedY, analytic.Y, 1e-5, 1e-5, "y");
        double Loss() => GradCheck.Dot(g, Run(backward: false).Y);
        string seed = $"seed {rng.Seed}";
        AssertClose.All(FiniteDifference.Gradient(Loss, xs, 1e-2f), analytic.Dx!, 1e-3, 1e-2, $"dx, {seed}");
        AssertClose.All(FiniteDifference.Gradient(Loss, gammas, 1e-2f), analytic.Dgamma!, 1e-3, 1e-2, $"dgamma, {seed}");
        AssertClose.All(FiniteDifference.Gradient(Loss, betas, 1e-2f), analytic.Dbeta!, 1e-3, 1e-2, $"dbeta, {seed}");
    }
}
