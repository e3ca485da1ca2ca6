using AdvRobust.Core;

namespace AdvRobust.Tests.Core;

public class ParamDefaultsTests
{
    [Test]
    public void ConvParams_New_UsesDeclaredDefaults() => Assert.That(new ConvParams(), Is.EqualTo(new ConvParams(1, 0)));

    [Test]
    public void BatchNormParams_New_UsesPyTorchDefaults()
    {
        var p = new BatchNormParams();
        Assert.That((p.Epsilon, p.Momentum), Is.EqualTo((1e-5f, 0.1f)));
    }
}
