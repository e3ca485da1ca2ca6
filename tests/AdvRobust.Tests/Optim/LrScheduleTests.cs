using AdvRobust.Core.Optim;

namespace AdvRobust.Tests.Optim;

public class LrScheduleTests
{
    [Test]
    public void Constant_AnyIteration_ReturnsTheRate()
    {
        var s = LrSchedule.Constant(0.1f);
        Assert.That(new[] { s.At(0), s.At(1), s.At(1_000_000) }, Is.All.EqualTo(0.1f));
    }

    [Test]
    public void Step_AroundMilestones_MultipliesByGammaAtEachMilestone()
    {
        // PyTorch MultiStepLR(milestones=[100, 150], gamma=0.1) with base 0.1, read per iteration.
        var s = LrSchedule.Step(0.1f, [100, 150], 0.1f);

        Assert.That(s.At(0), Is.EqualTo(0.1f));
        Assert.That(s.At(99), Is.EqualTo(0.1f));
        // 0.1f and gamma 0.1f are not exactly 0.1: allow one unit in the last place of the float result.
        Assert.That(s.At(100), Is.EqualTo(0.01f).Within(1).Ulps);
        Assert.That(s.At(149), Is.EqualTo(0.01f).Within(1).Ulps);
        Assert.That(s.At(150), Is.EqualTo(0.001f).Within(1).Ulps);
        Assert.That(s.At(10_000), Is.EqualTo(0.001f).Within(1).Ulps);
    }

    [Test]
    public void Cosine_KnownPoints_FollowTheClosedForm()
    {
        var s = LrSchedule.Cosine(0.2f, 1000, etaMin: 0.02f);

        Assert.That(s.At(0), Is.EqualTo(0.2f));
        Assert.That(s.At(250), Is.EqualTo((float)(0.02 + 0.18 * (1 + Math.Sqrt(0.5)) / 2)).Within(1e-7));
        Assert.That(s.At(500), Is.EqualTo(0.11f).Within(1e-7));
        Assert.That(s.At(750), Is.EqualTo((float)(0.02 + 0.18 * (1 - Math.Sqrt(0.5)) / 2)).Within(1e-7));
        Assert.That(s.At(1000), Is.EqualTo(0.02f));
        Assert.That(s.At(5000), Is.EqualTo(0.02f), "stays at eta_min after the last iteration");
    }

    [Test]
    public void Cosine_EveryIteration_DecreasesMonotonically()
    {
        var s = LrSchedule.Cosine(1f, 97);
        for (int t = 1; t <= 97; t++) Assert.That(s.At(t), Is.LessThanOrEqualTo(s.At(t - 1)), $"t = {t}");
        Assert.That(s.At(97), Is.EqualTo(0f));
    }

    [Test]
    public void WithWarmup_FirstIterations_RampLinearlyThenRunInnerSchedule()
    {
        var s = LrSchedule.Cosine(0.4f, 100).WithWarmup(4);

        Assert.That(new[] { s.At(0), s.At(1), s.At(2), s.At(3) }, Is.EqualTo(new[] { 0.1f, 0.2f, 0.3f, 0.4f }));
        Assert.That(s.At(4), Is.EqualTo(0.4f), "the inner schedule starts at its iteration 0");
        Assert.That(s.At(54), Is.EqualTo(LrSchedule.Cosine(0.4f, 100).At(50)));
        Assert.That(s.At(104), Is.EqualTo(0f));
    }

    [Test]
    public void WithWarmup_StepSchedule_ShiftsMilestonesByTheWarmup()
    {
        var s = LrSchedule.Step(1f, [10], 0.5f).WithWarmup(5);
        Assert.That(s.At(14), Is.EqualTo(1f));
        Assert.That(s.At(15), Is.EqualTo(0.5f));
    }

    [Test]
    public void Schedules_InvalidArguments_Throw()
    {
        Assert.Throws<ArgumentException>(() => LrSchedule.Constant(-1f));
        Assert.Throws<ArgumentException>(() => LrSchedule.Constant(float.NaN));
        Assert.Throws<ArgumentException>(() => LrSchedule.Step(0.1f, [20, 10], 0.1f));
        Assert.Throws<ArgumentException>(() => LrSchedule.Cosine(0.1f, 0));
        Assert.Throws<ArgumentException>(() => LrSchedule.Constant(0.1f).WithWarmup(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LrSchedule.Constant(0.1f).At(-1));
    }
}
