using System.Text.Json;
using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Data;
using AdvRobust.Research.Detection;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Attacks;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Detection;

public class AdversarialDetectionTests
{
    private static readonly DetectionAttack Dummy =
        new("fgsm", new Fgsm(new FgsmSettings(0.1f)));

    /// <summary>
    /// Clean-vs-adversarial keeps the clean-correct samples {0, 1, 2, 4} as negatives and, of their adversarial
    /// examples, the fooled {0, 2} as positives: 0.9 and 0.8 beat every negative, AUC 1. Misclassified-vs-correct
    /// takes every attacked input: positives {0, 2, 3} (0.9, 0.8, 0.7) against {1, 4} (0.1, 0.85): 4 of 6 pairs won.
    /// </summary>
    [Test]
    public void Measure_HandFlags_SplitsBothFramingsAsDocumented()
    {
        var a = AdversarialDetection.Measure(Dummy, 5, [0.1, 0.2, 0.3, 0.4, 0.5], [true, true, true, false, true],
            [0.9, 0.1, 0.8, 0.7, 0.85], [false, true, false, false, true], seconds: 1);
        Assert.That((a.Samples, a.CleanCorrect, a.Fooled, a.Misclassified), Is.EqualTo((5, 4, 2, 3)));
        Assert.That(a.AdversarialAccuracy, Is.EqualTo(0.4));
        Assert.That(a.CleanVsAdversarial!.Auc, Is.EqualTo(1.0));
        Assert.That((a.CleanVsAdversarial.Positives, a.CleanVsAdversarial.Negatives), Is.EqualTo((2, 4)));
        Assert.That(a.MisclassifiedVsCorrect!.Auc, Is.EqualTo(4 / 6.0).Within(1e-12));
        Assert.That((a.MisclassifiedVsCorrect.Positives, a.MisclassifiedVsCorrect.Negatives), Is.EqualTo((3, 2)));
    }

    [Test]
    public void Measure_AttackFoolsNothing_BothFramingsNull()
    {
        var a = AdversarialDetection.Measure(Dummy, 3, [0.1, 0.2, 0.3], [true, true, true], [0.1, 0.2, 0.3],
            [true, true, true], seconds: 1);
        Assert.That(a.CleanVsAdversarial, Is.Null);
        Assert.That(a.MisclassifiedVsCorrect, Is.Null);
        Assert.That(a.AdversarialAccuracy, Is.EqualTo(1.0));
    }

    [Test]
    public void Run_MlpOnRandomImages_CountsConsistentAndIndependentOfBatchSize()
    {
        var rng = new SeededRandom(nameof(Run_MlpOnRandomImages_CountsConsistentAndIndependentOfBatchSize));
        var model = new Mlp(Backends.Cpu, rng, hidden: 32, classes: 4, 3, 8, 8);
        var reference = Images(model, rng, 60, flipEvery: 0);
        var test = Images(model, rng, 20, flipEvery: 4);
        model.Train();
        var results = new[] { 7, 20 }.Select(batch =>
            new AdversarialDetection(Attacks(), new DetectionSettings(K: 5, BatchSize: batch, BlockRows: 16))
                .Run(model, reference, test)).ToArray();
        Assert.That(model.Training, Is.True, "the model's mode is restored");
        var r = results[0];
        Assert.That((r.ReferenceSamples, r.TestSamples, r.K, r.CleanCorrect), Is.EqualTo((60, 20, 5, 15)));
        Assert.That(r.Attacks.Select(a => a.Name), Is.EqualTo(new[] { "fgsm", "pgd-linf", "pgd-l2", "cw", "apgd-ce" }));
        foreach (var a in r.Attacks)
        {
            Assert.That(a.Fooled, Is.LessThanOrEqualTo(a.CleanCorrect), a.Name);
            Assert.That(a.AdversarialAccuracy, Is.EqualTo((20.0 - a.Misclassified) / 20).Within(1e-12), a.Name);
            if (a.CleanVsAdversarial is { } roc) Assert.That((roc.Positives, roc.Negatives), Is.EqualTo((a.Fooled, 15)));
            if (a.MisclassifiedVsCorrect is { } m) Assert.That(m.Positives, Is.EqualTo(a.Misclassified), a.Name);
        }
        Assert.That(r.Attacks.Count(a => a.CleanVsAdversarial is not null), Is.GreaterThan(0), "some attack fools");
        // Random draws are keyed by the test index, so the batch size changes nothing.
        for (int i = 0; i < r.Attacks.Count; i++)
        {
            var (x, y) = (r.Attacks[i], results[1].Attacks[i]);
            Assert.That((y.Fooled, y.Misclassified), Is.EqualTo((x.Fooled, x.Misclassified)), x.Name);
            Assert.That(y.CleanVsAdversarial?.Auc, Is.EqualTo(x.CleanVsAdversarial?.Auc), x.Name);
            Assert.That(y.MisclassifiedVsCorrect?.Auc, Is.EqualTo(x.MisclassifiedVsCorrect?.Auc), x.Name);
        }
    }

    [Test]
    public void ToJson_RoundTrip_KeepsRocPointsInfiniteThresholdAndSettings()
    {
        var a = AdversarialDetection.Measure(Dummy, 4, [0.1, 0.2, 0.3, 0.4], [true, true, true, true],
            [0.9, 0.1, 0.8, 0.7], [false, true, false, true], seconds: 2);
        var result = new DetectionResult("Mlp", "cpu", 5, 60, 4, 4, 1.0, [a], 3.5);
        string json = result.ToJson();
        var back = DetectionResult.FromJson(json, "test.json");
        var roc = back.Attacks[0].CleanVsAdversarial!;
        Assert.That(roc.Thresholds[0], Is.EqualTo(double.PositiveInfinity));
        Assert.That(roc.Fpr, Is.EqualTo(a.CleanVsAdversarial!.Fpr));
        Assert.That(roc.Auc, Is.EqualTo(a.CleanVsAdversarial.Auc));
        Assert.That(((JsonElement)back.Attacks[0].Settings).GetProperty("Eps").GetSingle(), Is.EqualTo(0.1f));
        Assert.That(json, Does.Contain("\"TprAt5PercentFpr\""));
    }

    [Test]
    public void FromJson_Garbage_ErrorNamesFileAndLine()
    {
        var e = Assert.Throws<InvalidDataException>(() => DetectionResult.FromJson("{\n\"K\": \"x\"\n}", "d.json"));
        Assert.That(e!.Message, Does.StartWith("d.json line 2"));
    }

    [Test]
    public void SeededSubset_SameSeed_SameNestedSortedSubsets()
    {
        // 1×1×1 images whose one pixel encodes the index i as i/49, so the chosen indices can be read back.
        var data = new LabeledImages(50, 1, 1, 1, Enumerable.Range(0, 50).Select(i => i / 49f).ToArray(),
            new int[50], 1, "synthetic");
        int[] Ids(int n, ulong seed) =>
            AdversarialDetection.SeededSubset(data, n, seed).Pixels.Select(p => (int)MathF.Round(p * 49)).ToArray();
        Assert.That(Ids(10, 1), Is.EqualTo(Ids(10, 1)));
        Assert.That(Ids(10, 1), Is.Ordered.And.Unique);
        Assert.That(Ids(20, 1), Is.SupersetOf(Ids(10, 1)));
        Assert.That(Ids(10, 2), Is.Not.EqualTo(Ids(10, 1)));
        Assert.That(() => AdversarialDetection.SeededSubset(data, 51, 0), Throws.ArgumentException);
    }

    private static IReadOnlyList<DetectionAttack> Attacks() =>
    [
        new("fgsm", new Fgsm(new FgsmSettings(0.1f))),
        new("pgd-linf", new Pgd(new PgdSettings(PgdNorm.Linf, 0.1f, 0.05f, 3, Seed: 3))),
        new("pgd-l2", new Pgd(new PgdSettings(PgdNorm.L2, 1f, 0.5f, 3, Seed: 3))),
        new("cw", new Pgd(new PgdSettings(PgdNorm.Linf, 0.1f, 0.05f, 3, Loss: AttackLossKind.CW, Seed: 3))),
        new("apgd-ce", new Apgd(new ApgdSettings(PgdNorm.Linf, 0.1f, 3, Seed: 3))),
    ];

    /// <summary>Random 3×8×8 images labelled with the model's own prediction, every flipEvery-th label changed.</summary>
    private static LabeledImages Images(Mlp model, SeededRandom rng, int n, int flipEvery)
    {
        float[] x = rng.Uniform((long)n * 192, 0f, 1f);
        using var t = Tensor.FromArray(Backends.Cpu, x, n, 3, 8, 8);
        int[] y = AttackData.Predict(model, t);
        if (flipEvery > 0) for (int i = 0; i < n; i += flipEvery) y[i] = (y[i] + 1) % model.Classes;
        return new LabeledImages(n, 3, 8, 8, x, y, model.Classes, "random");
    }
}
