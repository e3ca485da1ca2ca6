using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Nn;

// CW, DLR and targeted DLR margins on the CPU (formulas in NnKinds.cs). Shape letters: logits N×K, labels N.
public class MarginLossTests
{
    private static IBackend Cpu => Backends.Cpu;

    [Test]
    public void MarginLoss_CW_IsBestOtherMinusTrue()
    {
        // Row 0: z = (1, 3, 2), y = 0: max other 3 → loss 2. Row 1: y = 1 is the max: 2 − 3 = −1.
        var (loss, dz) = Run(MarginKind.CW, new float[] { 1, 3, 2, 1, 3, 2 }, new[] { 0, 1 }, null, 2, 3);
        Assert.That(loss, Is.EqualTo(new float[] { 2, -1 }));
        Assert.That(dz, Is.EqualTo(new float[] { -1, 1, 0, 0, -1, 1 }));
    }

    [Test]
    public void MarginLossBackward_CWTiedRunnersUp_PicksLowestIndex()
    {
        var (loss, dz) = Run(MarginKind.CW, new float[] { 0, 2, 2 }, new[] { 0 }, null, 1, 3);
        Assert.That(loss, Is.EqualTo(new float[] { 2 }));
        Assert.That(dz, Is.EqualTo(new float[] { -1, 1, 0 }));
    }

    [Test]
    public void MarginLoss_DlrAndTargeted_MatchHandValues()
    {
        // z = (4, 1, 3, 0), y = 0: sorted 4, 3, 1, 0. DLR: −(4 − 3)/(4 − 1) = −1/3.
        // Targeted at t = 1: −(4 − 1)/(4 − (1 + 0)/2) = −3/3.5.
        float[] z = { 4, 1, 3, 0 };
        var (dlr, _) = Run(MarginKind.Dlr, z, new[] { 0 }, null, 1, 4);
        var (targeted, _) = Run(MarginKind.TargetedDlr, z, new[] { 0 }, new[] { 1 }, 1, 4);
        Assert.That(dlr[0], Is.EqualTo(-1f / 3).Within(1e-7));
        Assert.That(targeted[0], Is.EqualTo(-3f / 3.5f).Within(1e-7));
    }

    [Test]
    public void MarginLossBackward_DlrTies_SortsByValueThenIndex()
    {
        // z = (2, 2, 1, 1, 0), y = 4: j* = 0 (first of the tied maxima); π = 0, 1, 2, 3, 4 so π1 = 0, π3 = 2.
        // num = z_y − z_j* = −2, den = 2 − 1 = 1, loss = 2; dz_y = −1/den, dz_j* = +1/den, dz_π1 += num/den²,
        // dz_π3 −= num/den²: dz = (1 − 2, 0, 2, 0, −1).
        var (loss, dz) = Run(MarginKind.Dlr, new float[] { 2, 2, 1, 1, 0 }, new[] { 4 }, null, 1, 5);
        Assert.That(loss[0], Is.EqualTo(2f));
        Assert.That(dz, Is.EqualTo(new float[] { -1, 0, 2, 0, -1 }));
    }

    [TestCase(MarginKind.CW)]
    [TestCase(MarginKind.Dlr)]
    [TestCase(MarginKind.TargetedDlr)]
    public void MarginLossBackward_RandomInput_MatchesFiniteDifference(MarginKind kind)
    {
        var rng = new SeededRandom(TestContext.CurrentContext.Test.FullName);
        const int n = 5, k = 6;
        // Each row a shuffle of values 0.3 apart plus small noise: no ties, and ±1e-3 never reorders a row.
        var z = new float[n * k];
        for (int i = 0; i < n; i++)
        {
            var row = Enumerable.Range(0, k).Select(j => j * 0.3f + rng.Uniform(1, 0f, 0.05f)[0])
                .OrderBy(_ => rng.Next(0, 1 << 30)).ToArray();
            row.CopyTo(z, i * k);
        }
        int[] labels = rng.Labels(n, k);
        int[]? targets = kind == MarginKind.TargetedDlr
            ? labels.Select(y => (y + 1 + rng.Next(0, k - 1)) % k).ToArray()
            : null;
        float[] gradLoss = rng.Normal(n);
        var (_, dz) = Run(kind, z, labels, targets, n, k, gradLoss);

        double Loss() => GradCheck.Dot(gradLoss, Run(kind, z, labels, targets, n, k).Loss);
        AssertClose.All(FiniteDifference.Gradient(Loss, z, 1e-3f), dz, 1e-3, 1e-2, $"{kind} dz, seed {rng.Seed}");
    }

    private static (float[] Loss, float[] Dz) Run(MarginKind kind, float[] z, int[] labels, int[]? targets, int n,
        int k, float[]? gradLoss = null)
    {
        using var logits = Tensor.FromArray(Cpu, z, n, k);
        using var y = Tensor.FromArray(Cpu, labels, n);
        using var t = targets is null ? null : Tensor.FromArray(Cpu, targets, n);
        using var loss = Tensor.Empty(Cpu, DType.Float32, n);
        Ops.MarginLoss(kind, logits, y, t, loss);
        using var gl = Tensor.FromArray(Cpu, gradLoss ?? Enumerable.Repeat(1f, n).ToArray(), n);
        using var dz = Tensor.Empty(Cpu, DType.Float32, n, k);
        Ops.Fill(dz, float.NaN);
        Ops.MarginLossBackward(kind, logits, y, t, gl, dz);
        return (loss.ToArray(), dz.ToArray());
    }
}
