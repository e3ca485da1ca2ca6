using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Autograd;

// Tape.Backward's onGradientReady hook (issue 15): a parameter's gradient is accumulated right after the last node
// (in backward order) that consumes it, and the hook fires then, once per parameter that received a gradient, with
// Parameter.Grad already at its final value; for a real model the first report comes while most nodes are still to
// run, which is what lets a data-parallel rank start all-reducing early.
public class GradientReadyTests
{
    private static IBackend Cpu => Backends.Cpu;

    [TestCase("small-cnn", 1, 8)]
    [TestCase("resnet18", 3, 8)]
    public void HookFiresOncePerParameterWithItsFinalGradient_WhileNodesRemain(string arch, int channels, int size)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        using var model = ModelZoo.Create(arch, Cpu, 10, [channels, size, size], Half(channels), Half(channels), 7);
        model.Train();
        const int rows = 3;
        float[] xs = rng.Uniform(rows * channels * size * size);
        int[] ys = [1, 7, 4];
        // a first pass leaves gradients behind, so the second one accumulates onto them
        Step(model, xs, ys, null);
        var atHook = new Dictionary<Parameter, float[]>(ReferenceEqualityComparer.Instance);
        var nodesLeft = new List<int>();
        Tape? running = null;
        int nodes = Step(model, xs, ys, (tape, p) =>
        {
            running = tape;
            Assert.That(atHook.TryAdd(p, p.Grad!.ToArray()), $"{p.Name} reported twice");
            nodesLeft.Add(tape.NodesLeft);
        });
        Assert.That(running, Is.Not.Null);
        var parameters = model.Parameters().Where(p => p.RequiresGrad).ToArray();
        Assert.That(atHook.Keys, Is.EquivalentTo(parameters.Where(p => p.Grad is not null)), "one report per parameter");
        foreach (var p in parameters)
            Assert.That(p.Grad!.ToArray().Select(BitConverter.SingleToInt32Bits),
                Is.EqualTo(atHook[p].Select(BitConverter.SingleToInt32Bits)), $"{p.Name}: final when reported");
        Assert.That(nodesLeft[0], Is.GreaterThan(nodes / 2), $"the first report leaves most of the {nodes} nodes to run");
        Assert.That(nodesLeft, Is.Ordered.Descending, "reports follow the backward pass");
        Assert.That(running!.NodesLeft, Is.Zero, "0 once the pass is done");
    }

    [Test]
    public void ParameterBoundTwice_IsReportedOnceAfterItsLastUse_LeafByLeafInFirstGradientOrder()
    {
        // L = Σ (w ⊙ a ⊙ a) + Σ (w ⊙ b): the second binding (recorded later) receives its gradient b first, then the
        // first one a²; onto an existing gradient G they add as (G + b) + a², as one accumulation after the pass would.
        float[] g0 = [1f, -3.5f, 1e7f, 0.1f], a = [0.3f, 1.7f, -2f, 1e-3f], b = [1e-8f, 2.5f, 0.7f, -0.3f];
        using var w = new Parameter("w", Tensor.FromArray(Cpu, new[] { 0.5f, -1f, 2f, 3f }, 4));
        using (var g = Tensor.FromArray(Cpu, g0, 4)) w.AccumulateGrad(g);
        using var tape = new Tape(Cpu);
        var av = tape.Constant(tape.Own(Tensor.FromArray(Cpu, a, 4)));
        var bv = tape.Constant(tape.Own(Tensor.FromArray(Cpu, b, 4)));
        var first = F.Sum(tape, F.Mul(tape, F.Mul(tape, tape.Param(w), av), av));
        var second = F.Sum(tape, F.Mul(tape, tape.Param(w), bv));
        var reports = new List<int>();
        tape.Backward(F.Add(tape, first, second), p =>
        {
            Assert.That(p, Is.SameAs(w));
            reports.Add(tape.NodesLeft);
        });
        Assert.That(reports, Is.EqualTo(new[] { 0 }), "once, after node 0 (its first binding's Mul) has run");
        float[] expected = g0.Select((g, i) => g + b[i] + a[i] * a[i]).ToArray();
        Assert.That(w.Grad!.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void NoParameterGradients_NoReports()
    {
        using var model = ModelZoo.Create("small-cnn", Cpu, 10, [1, 8, 8], [0.5f], [0.5f], 3);
        using var tape = new Tape(Cpu, parameterGradients: false);
        var x = tape.Input(tape.Own(Tensor.FromArray(Cpu, new float[64], 1, 1, 8, 8)));
        var loss = F.Sum(tape, model.Forward(tape, x).Logits);
        tape.Backward(loss, p => Assert.Fail($"{p.Name} reported in attack mode"));
        Assert.That(x.Grad, Is.Not.Null);
    }

    private static float[] Half(int channels) => Enumerable.Repeat(0.5f, channels).ToArray();

    /// <summary>One training-mode pass; returns the tape's node count.</summary>
    private static int Step(ImageClassifier model, float[] xs, int[] ys, Action<Tape, Parameter>? hook)
    {
        using var tape = new Tape(Cpu);
        using var x = Tensor.FromArray(Cpu, xs, [ys.Length, .. model.InputShape]);
        using var labels = Tensor.FromArray(Cpu, ys, ys.Length);
        var logits = model.Forward(tape, tape.Constant(x)).Logits;
        tape.Backward(F.Mean(tape, F.CrossEntropy(tape, logits, labels)), hook is null ? null : p => hook(tape, p));
        return tape.NodeCount;
    }
}
