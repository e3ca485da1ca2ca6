using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Serialization;

namespace AdvRobust.Tests.Models;

/// <summary>
/// A checkpoint with the right names and shapes can still be wrong: one NaN in a weight makes every prediction one
/// class and every downstream figure (accuracy, AUC, certified radius) silently meaningless, and NaN normalization
/// metadata does the same to every input. Both are refused at load, naming the file, the tensor or key, and the first
/// bad element, before the model is changed.
/// </summary>
public class CheckpointValuesTests
{
    private string _folder = "";

    [SetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("advrobust-ckptvalues-").FullName;

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private string SavedWith(string name, float value, int index, IReadOnlyDictionary<string, string>? meta = null)
    {
        using var source = CheckpointTests.Narrow(1);
        string path = Path.Combine(_folder, "m.safetensors");
        Checkpoint.Save(path, source, meta);
        var file = SafeTensors.Read(path);
        var entries = file.Tensors.Select(t =>
        {
            if (t.Name != name) return (t.Name, t.DType, t.Shape, t.Data);
            float[] values = t.ToFloats();
            values[index] = value;
            return (t.Name, t.DType, t.Shape, (ReadOnlyMemory<byte>)values.SelectMany(BitConverter.GetBytes).ToArray());
        }).ToList();
        SafeTensors.Write(path, entries, file.Metadata.ToDictionary());
        return path;
    }

    private static float[] Flat(Module m) => m.NamedParameters().SelectMany(p => p.Item2.Value.ToArray<float>()).ToArray();

    [TestCase(float.NaN, "NaN")]
    [TestCase(float.PositiveInfinity, "+Infinity")]
    [TestCase(float.NegativeInfinity, "-Infinity")]
    public void Load_NonFiniteWeight_FailsNamingFileTensorAndIndexAndChangesNothing(float bad, string shown)
    {
        // layer1.0.conv2.weight is [4, 4, 3, 3]: flat index 50 = 36 + 9 + 3 + 2 is [1, 1, 1, 2].
        string path = SavedWith("layer1.0.conv2.weight", bad, 50);
        using var target = CheckpointTests.Narrow(2);
        float[] before = Flat(target);

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target))!;

        Assert.That(ex.Message, Does.Contain(path).And.Contain("'layer1.0.conv2.weight'")
            .And.Contain($"{shown} at index 50 ([1, 1, 1, 2])").And.Contain("1 non-finite value of 144"));
        Assert.That(Flat(target), Is.EqualTo(before), "a refused load must not write any tensor");
    }

    [Test]
    public void Load_NonFiniteRunningStatistic_FailsToo()
    {
        string path = SavedWith("bn1.running_var", float.NaN, 0);
        using var target = CheckpointTests.Narrow(2);
        Assert.That(() => Checkpoint.Load(path, target), Throws.InstanceOf<InvalidDataException>()
            .With.Message.Contain("'bn1.running_var'").And.Message.Contain("NaN at index 0"));
    }

    [TestCase("NaN", "0.2,0.2,0.2", "'normalize.mean'", "is NaN; it must be finite")]
    [TestCase("0.5,Infinity,0.5", "0.2,0.2,0.2", "value 2 is +Infinity", "must be finite")]
    [TestCase("0.5,0.5,0.5", "0.2,0,0.2", "'normalize.std'", "a std must be > 0")]
    [TestCase("0.5,0.5,0.5", "0.2,-1,0.2", "'normalize.std'", "a std must be > 0")]
    [TestCase("0.5,abc,0.5", "0.2,0.2,0.2", "'normalize.mean'", "('abc') is not a number")]
    [TestCase("0.5,0.5", "0.2,0.2,0.2", "has 2 values", "has 3")]
    public void Load_BadNormalizationMetadata_FailsNamingFileAndKey(string mean, string std, string part1, string part2)
    {
        string path = SavedWith("linear.bias", 0f, 0,
            new Dictionary<string, string> { ["normalize.mean"] = mean, ["normalize.std"] = std });
        using var target = CheckpointTests.Narrow(2);

        var load = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target))!;
        var read = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadNormalization(path))!;

        foreach (var ex in new[] { load, read })
            Assert.That(ex.Message, Does.Contain(path).And.Contain(part1).And.Contain(part2));
    }

    [Test]
    public void ReadNormalization_OneKeyWithoutTheOther_FailsAndNoneGivesNull()
    {
        string path = SavedWith("linear.bias", 0f, 0, new Dictionary<string, string> { ["normalize.std"] = "0.3" });
        Assert.That(() => Checkpoint.ReadNormalization(path), Throws.InstanceOf<InvalidDataException>()
            .With.Message.Contain("has 'normalize.std' but no 'normalize.mean'"));

        path = SavedWith("linear.bias", 0f, 0);
        Assert.That(Checkpoint.ReadNormalization(path), Is.Null);
        path = SavedWith("linear.bias", 0f, 0,
            new Dictionary<string, string> { ["normalize.mean"] = "0.1, 0.2,0.3", ["normalize.std"] = "1,2,3" });
        var (m, s) = Checkpoint.ReadNormalization(path)!.Value;
        Assert.That(m, Is.EqualTo(new[] { 0.1f, 0.2f, 0.3f }));
        Assert.That(s, Is.EqualTo(new[] { 1f, 2f, 3f }));
    }
}
