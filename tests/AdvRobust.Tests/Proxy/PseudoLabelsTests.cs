using AdvRobust.Core;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;
using AdvRobust.Research.Proxy;
using AdvRobust.Tests.Support;
using AdvRobust.Tests.Training.Objectives;

namespace AdvRobust.Tests.Proxy;

// Pseudo-labelling an unlabelled proxy set with a teacher (PORT): argmax labels, kept above a softmax confidence.
public class PseudoLabelsTests
{
    [Test]
    public void Label_KeepsExactlyTheConfidentImages_WithTheTeachersArgmax()
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 40;
        byte[] images = rng.Uniform(n * 16, 0, 1).Select(v => (byte)(v * 255)).ToArray();
        var set = new ProxySet(n, 1, 4, 4, images, null, null, "toy");
        using var teacher = new TinyNet(Backends.Cpu, 5);

        using var x = Tensor.FromArray(Backends.Cpu, set.ToPixels(), n, 1, 4, 4);
        teacher.Eval();
        float[] logits = Predictions.Logits(teacher, x, out int k);
        teacher.Train();
        var confidence = Enumerable.Range(0, n).Select(i =>
        {
            var z = logits.AsSpan(i * k, k).ToArray();
            return 1 / z.Sum(v => Math.Exp(v - z.Max()));
        }).ToArray();
        float threshold = (float)confidence.Order().ElementAt(n / 2);
        int[] expectedKept = Enumerable.Range(0, n).Where(i => confidence[i] >= threshold).ToArray();

        var result = PseudoLabels.Label(set, teacher, threshold, batchSize: 7);

        Assert.That(result.Kept, Is.EqualTo(expectedKept.Length));
        Assert.That(result.Total, Is.EqualTo(n));
        Assert.That(result.Images.Labels, Is.EqualTo(expectedKept.Select(i => Predictions.Argmax(logits, k)[i]).ToArray()));
        Assert.That(result.Images.Pixels.AsSpan(0, 16).ToArray(),
            Is.EqualTo(set.ToPixels().AsSpan(expectedKept[0] * 16, 16).ToArray()));
        Assert.That(teacher.Training, Is.True, "the teacher's mode is restored");
        Assert.That(() => PseudoLabels.Label(set, teacher, 0.999999f), Throws.ArgumentException.With.Message.Contain("lower the threshold"));
    }
}
