using System.Text;

namespace AdvRobust.Tests.Support;

/// <summary>
/// Elementwise closeness: passes when |actual - expected| <= atol + rtol * |expected| everywhere (llm.c's
/// validate_result). On failure it prints the first 5 mismatches and the largest difference.
/// </summary>
public static class AssertClose
{
    public static void All(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, double rtol, string what = "")
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: lengths differ");
        var sb = new StringBuilder();
        int bad = 0;
        double maxDiff = 0;
        long maxAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i], diff = Math.Abs(a - e);
            bool ok = diff <= atol + rtol * Math.Abs(e) || (double.IsNaN(e) && double.IsNaN(a)) || e == a;
            if (!double.IsNaN(diff) && diff > maxDiff) { maxDiff = diff; maxAt = i; }
            if (ok) continue;
            if (bad < 5) sb.AppendLine($"  [{i}] expected {e:G9}, got {a:G9}, diff {diff:G3}");
            bad++;
        }
        if (bad > 0)
            Assert.Fail($"{what}: {bad} of {expected.Length} elements differ beyond atol={atol} rtol={rtol}; " +
                        $"max diff {maxDiff:G3} at [{maxAt}]\n{sb}");
    }

    public static void All(float[] expected, float[] actual, double atol, double rtol, string what = "") =>
        All(expected.AsSpan(), actual.AsSpan(), atol, rtol, what);
}
