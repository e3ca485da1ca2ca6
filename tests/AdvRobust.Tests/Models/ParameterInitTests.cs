using AdvRobust.Core;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Random;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Models;

/// <summary>Seeded initialization: the documented Philox layout, the distributions' moments, and the schemes the
/// layers use. Shape letters: K out channels, C in channels, R kernel size.</summary>
public class ParameterInitTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void NormalValues_DocumentedLayout_MatchesPhiloxNormal()
    {
        const ulong seed = 0x1234_5678_9ABCUL;
        var values = ParameterInit.NormalValues(seed, 3, 10, 0.5f);

        for (uint j = 0; j < 3; j++)
        {
            var r = Philox.Draw(seed, 3, ParameterInit.PurposeInit, 0, j);
            Assert.That(values[4 * j], Is.EqualTo(0.5f * Philox.Normal(r.X0, r.X1)), $"element {4 * j}");
            if (4 * j + 2 < 10)
                Assert.That(values[4 * j + 2], Is.EqualTo(0.5f * Philox.Normal(r.X2, r.X3)), $"element {4 * j + 2}");
        }
    }

    [Test]
    public void UniformValues_DocumentedLayout_MatchesPhiloxUniform()
    {
        var values = ParameterInit.UniformValues(99, 1, 7, 2f);
        var r0 = Philox.Draw(99, 1, ParameterInit.PurposeInit, 0, 0);
        var r1 = Philox.Draw(99, 1, ParameterInit.PurposeInit, 0, 1);
        float U(uint bits) => -2f + 4f * Philox.Uniform(bits);

        Assert.That(values, Is.EqualTo(new[] { U(r0.X0), U(r0.X1), U(r0.X2), U(r0.X3), U(r1.X0), U(r1.X1), U(r1.X2) }));
    }

    [Test]
    public void KaimingNormalFanOut_LargeConv_HasStdSqrtTwoOverFanOut()
    {
        var init = new ParameterInit(Cpu, 5);
        using var w = init.KaimingNormalFanOut(128, 64, 3, 3); // fan_out = 128·9 = 1152
        var v = w.ToArray();
        double mean = v.Average(x => (double)x), std = Math.Sqrt(v.Average(x => (x - mean) * (x - mean)));

        // 73,728 draws: the sample std has relative standard error 1/sqrt(2n) ≈ 0.26%; allow 1.5%.
        Assert.That(std, Is.EqualTo(Math.Sqrt(2.0 / 1152)).Within(1.5).Percent);
        Assert.That(Math.Abs(mean), Is.LessThan(4 * std / Math.Sqrt(v.Length)));
        Assert.That(init.NextStream, Is.EqualTo(1u));
    }

    [Test]
    public void KaimingUniformDefault_Linear_StaysInBoundWithUniformVariance()
    {
        var init = new ParameterInit(Cpu, 6);
        using var w = init.KaimingUniformDefault(400, 300, 400);
        var v = w.ToArray();
        float bound = 1f / 20f;
        double variance = v.Average(x => (double)x * x);

        Assert.That(v, Is.All.GreaterThanOrEqualTo(-bound).And.LessThan(bound));
        Assert.That(variance, Is.EqualTo(bound * bound / 3.0).Within(2).Percent);
    }

    [Test]
    public void Streams_ConsecutiveTensors_UseConsecutiveStreams()
    {
        var init = new ParameterInit(Cpu, 11);
        using var a = init.Normal(1f, 8);
        using var constant = init.Constant(3f, 2);
        using var b = init.Uniform(1f, 8);

        Assert.That(a.ToArray(), Is.EqualTo(ParameterInit.NormalValues(11, 0, 8, 1f)));
        Assert.That(b.ToArray(), Is.EqualTo(ParameterInit.UniformValues(11, 1, 8, 1f)), "constants take no stream");
        Assert.That(constant.ToArray(), Is.EqualTo(new[] { 3f, 3f }));
    }

    [Test]
    public void ForLoading_SkipsDrawsButKeepsBatchNormConstants()
    {
        var init = ParameterInit.ForLoading(Cpu);
        using var conv = new Conv2d(init, 3, 4, 3, bias: true);
        using var bn = new BatchNorm2d(init, 4);

        Assert.That(conv.Weight.Value.ToArray(), Is.All.EqualTo(0f));
        Assert.That(conv.Bias!.Value.ToArray(), Is.All.EqualTo(0f));
        Assert.That(bn.Weight.Value.ToArray(), Is.All.EqualTo(1f));
        Assert.That(bn.RunningVar.ToArray(), Is.All.EqualTo(1f));
        Assert.That(bn.Bias.Value.ToArray().Concat(bn.RunningMean.ToArray()), Is.All.EqualTo(0f));
        Assert.That(bn.NumBatchesTracked.ToArray(), Is.EqualTo(new[] { 0f }));
    }

    [Test]
    public void Layers_DefaultSchemes_DrawTheDocumentedDistributions()
    {
        var init = new ParameterInit(Cpu, 21);
        using var conv = new Conv2d(init, 2, 3, 3, bias: true);                      // stream 0 weight, 1 bias
        using var convDefault = new Conv2d(init, 2, 3, 3, scheme: ConvInit.PyTorchDefault); // stream 2
        using var linear = new Linear(init, 5, 4);                                   // streams 3, 4

        float convBound = 1f / MathF.Sqrt(18), linearBound = 1f / MathF.Sqrt(5); // fan_in 2·3·3 and 5
        Assert.That(conv.Weight.Value.ToArray(), Is.EqualTo(ParameterInit.NormalValues(21, 0, 54, MathF.Sqrt(2f / 27))));
        Assert.That(conv.Bias!.Value.ToArray(), Is.EqualTo(ParameterInit.UniformValues(21, 1, 3, convBound)));
        Assert.That(convDefault.Weight.Value.ToArray(), Is.EqualTo(ParameterInit.UniformValues(21, 2, 54, convBound)));
        Assert.That(linear.Weight.Value.ToArray(), Is.EqualTo(ParameterInit.UniformValues(21, 3, 20, linearBound)));
        Assert.That(linear.Bias!.Value.ToArray(), Is.EqualTo(ParameterInit.UniformValues(21, 4, 4, linearBound)));
    }

    [Test]
    public void WideResNet_Init_ZeroesClassifierBiasOnly()
    {
        using var model = new WideResNet(new ParameterInit(Cpu, 3), 10, 1, 10, [3, 8, 8],
            ModelZooTests.CifarMean, ModelZooTests.CifarStd);
        var p = model.NamedParameters().ToDictionary(e => e.Name, e => e.Parameter.Value.ToArray());

        Assert.That(p["fc.bias"], Is.All.EqualTo(0f));
        Assert.That(p["fc.weight"].Count(v => v != 0f), Is.EqualTo(p["fc.weight"].Length));
        var conv = p["block1.layer.0.conv1.weight"];
        Assert.That(conv.Count(v => v != 0f), Is.EqualTo(conv.Length));
    }
}
