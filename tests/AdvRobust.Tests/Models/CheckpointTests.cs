using AdvRobust.Core;
using AdvRobust.Core.Checkpoints;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Serialization;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Models;

/// <summary>
/// Checkpoint files: what is written (names, F32/I64, shapes, metadata), bit-exact round trips, and loads that must
/// fail naming every mismatched tensor while leaving the model untouched. The subject is a narrow ResNet-18 (width 4),
/// which has every kind of entry: convs, BNs with counters, shortcut Sequentials and a linear layer.
/// </summary>
public class CheckpointTests
{
    private string _folder = "";

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "advrobust-ckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder()
    {
        try { Directory.Delete(_folder, recursive: true); }
        catch (IOException) { }
    }

    private static IBackend Cpu => Backends.Cpu;
    private string PathOf(string name) => Path.Combine(_folder, name);

    internal static ResNet18 Narrow(ulong seed) =>
        new(new ParameterInit(Cpu, seed), 10, [3, 8, 8], ModelZooTests.CifarMean, ModelZooTests.CifarStd, width: 4);

    private static Dictionary<string, float[]> StateOf(Module m) =>
        Checkpoint.State(m).ToDictionary(s => s.Name, s => s.Tensor.ToArray());

    /// <summary>Gives every tensor a distinct non-default value (as training would), so a round trip can tell.
    /// </summary>
    private static void Perturb(Module m, float offset)
    {
        int i = 0;
        foreach (var (_, tensor, _) in Checkpoint.State(m))
        {
            var v = tensor.ToArray();
            for (int k = 0; k < v.Length; k++) v[k] = MathF.Round(v[k] + offset + i + k * 0.25f);
            tensor.Backend.CopyIn<float>(tensor.Storage, v);
            i++;
        }
    }

    /// <summary>Rewrites a checkpoint with <paramref name="edit"/> applied to its entries (same metadata).</summary>
    private static void Rewrite(string path, Func<List<SafeTensorEntry>, List<SafeTensorEntry>> edit)
    {
        var file = SafeTensors.Read(path);
        var entries = edit(file.Tensors.ToList());
        SafeTensors.Write(path, entries.Select(e => (e.Name, e.DType, e.Shape, e.Data)).ToList(),
            file.Metadata.ToDictionary());
    }

    /// <summary>The "missing …", "unexpected …", "wrong shape …" or "wrong dtype …" part of a load error.</summary>
    private static string Section(string message, string kind)
    {
        int start = message.IndexOf(kind + " '", StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"no '{kind}' section in: {message}");
        int end = message.IndexOf("; ", start, StringComparison.Ordinal);
        return end < 0 ? message[start..] : message[start..end];
    }

    [Test]
    public void Save_NarrowResNet_WritesEveryTensorWithPyTorchDtypesAndShapes()
    {
        using var model = Narrow(1);
        string path = PathOf("m.safetensors");

        Checkpoint.Save(path, model, new Dictionary<string, string> { ["arch"] = "resnet18", ["epoch"] = "3" });
        var file = SafeTensors.Read(path);

        int parameters = model.NamedParameters().Count(), buffers = model.NamedBuffers().Count();
        Assert.That(file.Tensors, Has.Count.EqualTo(parameters + buffers));
        Assert.That(buffers, Is.EqualTo(20 * 3), "20 BNs, 3 buffers each");
        var counter = file["layer2.0.shortcut.1.num_batches_tracked"];
        Assert.That((counter.DType, counter.Shape), Is.EqualTo(("I64", Array.Empty<int>())));
        Assert.That(counter.ToInt64(), Is.EqualTo(new[] { 0L }));
        Assert.That(file.Tensors.Where(t => !t.Name.EndsWith("num_batches_tracked")).Select(t => t.DType),
            Is.All.EqualTo("F32"));
        Assert.That(file["layer2.0.conv1.weight"].Shape, Is.EqualTo(new[] { 8, 4, 3, 3 }));
        Assert.That(file.GetFloats("linear.weight"), Is.EqualTo(model.Linear.Weight.Value.ToArray()));
        Assert.That(file.Metadata,
            Is.EqualTo(new Dictionary<string, string> { ["arch"] = "resnet18", ["epoch"] = "3", ["format"] = "pt" }));
    }

    [Test]
    public void Load_SavedByAnotherSeed_RestoresEveryTensorBitIdentically()
    {
        using var source = Narrow(1);
        Perturb(source, 0.5f);
        string path = PathOf("m.safetensors");
        Checkpoint.Save(path, source, new Dictionary<string, string> { ["note"] = "x" });
        using var target = Narrow(2);
        Assert.That(StateOf(target)["conv1.weight"], Is.Not.EqualTo(StateOf(source)["conv1.weight"]));

        var metadata = Checkpoint.Load(path, target);

        Assert.That(StateOf(target), Is.EqualTo(StateOf(source)));
        Assert.That(metadata["note"], Is.EqualTo("x"));
    }

    [Test]
    public void Save_OverAnExistingFile_ReplacesItAndLeavesNoTemporaryFile()
    {
        using var a = Narrow(1);
        using var b = Narrow(2);
        string path = PathOf("m.safetensors");
        Checkpoint.Save(path, a);

        Checkpoint.Save(path, b);

        Assert.That(SafeTensors.Read(path).GetFloats("conv1.weight"), Is.EqualTo(b.Conv1.Weight.Value.ToArray()));
        Assert.That(Directory.GetFiles(_folder), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void Load_RenamedTensor_FailsNamingMissingAndUnexpectedAndChangesNothing()
    {
        using var source = Narrow(1);
        string path = PathOf("m.safetensors");
        Checkpoint.Save(path, source);
        Rewrite(path, e => e.Select(t => t.Name == "linear.weight" ? t with { Name = "fc.weight" } : t).ToList());
        using var target = Narrow(2);
        var before = StateOf(target);

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target))!;

        Assert.That(ex.Message, Does.Contain("missing 'linear.weight'").And.Contain("unexpected 'fc.weight'")
            .And.Contain(path).And.Contain(nameof(ResNet18)));
        Assert.That(StateOf(target), Is.EqualTo(before), "a failed load must not write any tensor");
    }

    [Test]
    public void Load_MissingTensor_FailsNamingIt()
    {
        using var source = Narrow(1);
        string path = PathOf("m.safetensors");
        Checkpoint.Save(path, source);
        Rewrite(path, e => e.Where(t => t.Name != "layer3.1.bn2.running_var").ToList());
        using var target = Narrow(2);

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target))!;

        Assert.That(ex.Message, Does.Contain("missing 'layer3.1.bn2.running_var'"));
        Assert.That(ex.Message, Does.Not.Contain("unexpected"));
    }

    [Test]
    public void Load_ReshapedTensor_FailsNamingItWithBothShapes()
    {
        using var source = Narrow(1);
        string path = PathOf("m.safetensors");
        Checkpoint.Save(path, source);
        // Same bytes, another shape: only the shape check can catch it.
        Rewrite(path, e => e.Select(t => t.Name == "layer1.0.conv2.weight" ? t with { Shape = [4, 4, 9, 1] } : t)
            .ToList());
        using var target = Narrow(2);

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target))!;

        Assert.That(ex.Message,
            Does.Contain("wrong shape 'layer1.0.conv2.weight' (file [4, 4, 9, 1], model [4, 4, 3, 3])"));
    }

    [Test]
    public void Load_CounterStoredAsF32_FailsNamingTheDtype()
    {
        using var source = Narrow(1);
        string path = PathOf("m.safetensors");
        Checkpoint.Save(path, source);
        Rewrite(path, e => e.Select(t => t.Name == "bn1.num_batches_tracked"
            ? t with { DType = "F32", Data = BitConverter.GetBytes(0f) } : t).ToList());
        using var target = Narrow(2);

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target))!;

        Assert.That(ex.Message, Does.Contain("wrong dtype 'bn1.num_batches_tracked' (file F32, model I64)"));
    }

    [Test]
    public void Load_SeveralMismatches_NamesThemAllInOneMessage()
    {
        using var source = Narrow(1);
        string path = PathOf("m.safetensors");
        Checkpoint.Save(path, source);
        Rewrite(path, e => e
            .Where(t => t.Name != "bn1.weight")
            .Select(t => t.Name == "layer4.1.conv1.weight" ? t with { Name = "layer4.1.conv9.weight" } : t)
            .Select(t => t.Name == "linear.bias" ? t with { Shape = [1, 10] } : t).ToList());
        using var target = Narrow(2);

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target))!;

        Assert.That(Section(ex.Message, "missing"), Is.EqualTo("missing 'bn1.weight', 'layer4.1.conv1.weight'"));
        Assert.That(Section(ex.Message, "unexpected"), Is.EqualTo("unexpected 'layer4.1.conv9.weight'"));
        Assert.That(Section(ex.Message, "wrong shape"),
            Is.EqualTo("wrong shape 'linear.bias' (file [1, 10], model [10])"));
    }

    [Test]
    public void Load_IntoAnotherArchitecture_FailsListingTheDifferences()
    {
        using var source = Narrow(1);
        string path = PathOf("m.safetensors");
        Checkpoint.Save(path, source);
        using var other = new PreActResNet18(new ParameterInit(Cpu, 1), 10, [3, 8, 8], ModelZooTests.CifarMean,
            ModelZooTests.CifarStd, width: 4);

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, other))!;

        Assert.That(Section(ex.Message, "missing"),
            Does.Contain("'bn.weight'").And.Contain("'bn.num_batches_tracked'"));
        Assert.That(Section(ex.Message, "unexpected"), Does.Contain("'bn1.weight'")
            .And.Contain("'layer2.0.shortcut.1.running_mean'"));
        Assert.That(Section(ex.Message, "wrong shape"), Does.Contain("'layer2.0.bn1.weight' (file [8], model [4])"));
    }
}
