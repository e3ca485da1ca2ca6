using AdvRobust.Core.Serialization;

namespace AdvRobust.Tests.Serialization;

public class TextPreviewTests
{
    [Test]
    public void Quote_ControlAndNonAsciiCharacters_AreEscaped() =>
        Assert.That(TextPreview.Quote("a\u0001\n\t\"\\\u00e9\u2603"), Is.EqualTo("\"a\\x01\\n\\t\\\"\\\\\\xE9\\u2603\""));

    [Test]
    public void Quote_LongText_IsCutWithItsLength()
    {
        string quoted = TextPreview.Quote(new string('x', 1000), 60);
        Assert.That(quoted, Is.EqualTo("\"" + new string('x', 60) + "\"… (1000 characters in all)"));
    }

    [Test]
    public void Escape_ShortText_IsUnchangedAndUnquoted() =>
        Assert.That(TextPreview.Escape("<f4"), Is.EqualTo("<f4"));
}
