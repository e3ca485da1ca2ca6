using AdvRobust.Research.Training;

namespace AdvRobust.Tests.Training;

/// <summary>A config naming a key twice in one object is refused with the key's path and both lines; the same key
/// in different objects is fine.</summary>
public class DuplicateKeysTests
{
    [Test]
    public void Parse_SameKeyInDifferentSections_IsAccepted() =>
        Assert.That(TrainConfig.Parse("{\"optimizer\": {\"kind\": \"sgd\"}, \"objective\": {\"kind\": \"standard\"}}",
            "c.json").Optimizer.Kind, Is.EqualTo("sgd"));

    [Test]
    public void Parse_DuplicateTopLevelKey_NamesFileKeyAndLines()
    {
        var e = Assert.Throws<InvalidDataException>(() => TrainConfig.Parse("{\"epochs\": 1,\n\"epochs\": 2}", "c.json"));
        Assert.That(e!.Message, Is.EqualTo("c.json: key 'epochs' is given twice, on line 1 and line 2; keep one"));
    }

    [Test]
    public void Parse_DuplicateInsideFreeFormSettings_NamesTheNestedPath()
    {
        var e = Assert.Throws<InvalidDataException>(() => TrainConfig.Parse(
            "{\"objective\": {\"settings\": {\"attack\": {\"eps\": 0.1, \"eps\": 0.2}}}}", "c.json"));
        Assert.That(e!.Message, Does.Contain("key 'objective.settings.attack.eps' is given twice"));
    }

    [Test]
    public void Parse_DuplicateInAnObjectInsideAnArray_NamesTheArray()
    {
        var e = Assert.Throws<InvalidDataException>(() => TrainConfig.Parse(
            "{\"objective\": {\"settings\": {\"list\": [{\"a\": 1, \"a\": 2}]}}}", "c.json"));
        Assert.That(e!.Message, Does.Contain("key 'objective.settings.list[].a' is given twice"));
    }
}
