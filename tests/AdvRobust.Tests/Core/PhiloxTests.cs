using AdvRobust.Core.Random;

namespace AdvRobust.Tests.Core;

public class PhiloxTests
{
    // Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
    [TestCase(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [TestCase(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
        0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [TestCase(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
        0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Block_KnownAnswerVectors_Match(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1,
        uint e0, uint e1, uint e2, uint e3)
    {
        var r = Philox.Block(c0, c1, c2, c3, k0, k1);
        Assert.That(r, Is.EqualTo((e0, e1, e2, e3)));
    }

    [Test]
    public void Uniform_ExtremeBits_StaysInHalfOpenUnitInterval()
    {
        Assert.That(Philox.Uniform(0), Is.EqualTo(0f));
        Assert.That(Philox.Uniform(uint.MaxValue), Is.LessThan(1f));
        Assert.That(Philox.UniformOpenZero(0), Is.GreaterThan(0f));
        Assert.That(Philox.UniformOpenZero(uint.MaxValue), Is.EqualTo(1f));
    }
}
