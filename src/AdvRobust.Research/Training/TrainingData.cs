using AdvRobust.Core.Data;

namespace AdvRobust.Research.Training;

/// <summary>
/// The images a run trains on and the fixed subset it evaluates on every epoch, cut from the data set's splits as
/// <see cref="DataConfig"/> says. <see cref="EvalDescription"/> says which images those are, for the manifest.
/// </summary>
public sealed record TrainingData(LabeledImages Train, LabeledImages Eval, string EvalDescription,
    LabeledImages? Synthetic = null, string? SyntheticDescription = null)
{
    /// <summary>Loads the splits <paramref name="config"/> needs: the training split always, the test split only for
    /// evalSplit "test". <paramref name="dir"/> (the CLI's --data) replaces <see cref="DataConfig.Dir"/>.</summary>
    public static TrainingData Load(DataConfig config, string? dir = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        dir ??= config.Dir;
        var train = LoadSplit(config.Name, dir, train: true);
        var test = config.EvalSplit == "test" ? LoadSplit(config.Name, dir, train: false) : null;
        return From(config, train, test);
    }

    /// <summary>Cuts the subsets from splits already in memory (tests use synthetic ones).</summary>
    public static TrainingData From(DataConfig config, LabeledImages trainSplit, LabeledImages? testSplit)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(trainSplit);
        LabeledImages eval;
        string description;
        int available = trainSplit.N;
        if (config.EvalSplit == "holdout")
        {
            if (config.EvalSize >= trainSplit.N)
                throw new ArgumentException($"data.evalSize {config.EvalSize} leaves nothing to train on: the " +
                                            $"training split has {trainSplit.N} images ({trainSplit.Source})");
            available = trainSplit.N - config.EvalSize;
            eval = trainSplit.Slice(available, config.EvalSize);
            description = $"training images {available}..{trainSplit.N - 1} (held out of training)";
        }
        else
        {
            if (testSplit is null) throw new ArgumentException("data.evalSplit \"test\" needs the test split");
            if (config.EvalSize > testSplit.N)
                throw new ArgumentException(
                    $"data.evalSize {config.EvalSize} exceeds the {testSplit.N} test images ({testSplit.Source})");
            eval = testSplit.Slice(0, config.EvalSize);
            description = $"test images 0..{config.EvalSize - 1}";
        }
        int trainSize = config.TrainSize ?? available;
        if (trainSize > available)
            throw new ArgumentException(
                $"data.trainSize {trainSize} exceeds the {available} training images available ({trainSplit.Source})");
        var train = trainSize == trainSplit.N ? trainSplit : trainSplit.Slice(0, trainSize);
        if (train.C != eval.C || train.H != eval.H || train.W != eval.W || train.Classes != eval.Classes)
            throw new ArgumentException($"training images ({train}) and evaluation images ({eval}) do not match");
        return new TrainingData(train, eval, description);
    }

    /// <summary>
    /// Adds the PORT proxy set of <paramref name="config"/> (an .npz, Proxy/ProxySetFile.cs): its own labels, or, when
    /// a <paramref name="teacher"/> is given, the teacher's pseudo-labels above the confidence threshold (replacing any
    /// labels the file has). An unlabelled set without a teacher is an error that says so.
    /// </summary>
    public TrainingData WithSynthetic(SyntheticConfig config, Classifier? teacher)
    {
        ArgumentNullException.ThrowIfNull(config);
        var set = Proxy.ProxySetFile.Read(config.Path);
        set.RequireShapeOf(Train);
        if (teacher is not null)
        {
            var labelled = Proxy.PseudoLabels.Label(set, teacher, config.Threshold);
            return this with { Synthetic = labelled.Images, SyntheticDescription = labelled.Description };
        }
        if (set.Labels is null)
            throw new ArgumentException($"{config.Path}: the proxy set has no labels; give data.synthetic.teacher " +
                                        "(and teacherArch) to pseudo-label it");
        return this with
        {
            Synthetic = set.ToLabeledImages(Train.Classes),
            SyntheticDescription = $"{config.Path}: {set.N} images with their own labels",
        };
    }

    private static LabeledImages LoadSplit(string name, string? dir, bool train) => name switch
    {
        "fashion-mnist" => FashionMnist.Load(dir, train),
        "mnist" => Mnist.Load(dir, train),
        "cifar10" => Cifar10Reader.Load(dir, train),
        _ when Directory.Exists(name) => File.Exists(Path.Combine(name, "data_batch_1.bin"))
            ? Cifar10Reader.Load(name, train)
            : FashionMnist.Load(name, train),
        _ => throw new ArgumentException(
            $"data.name must be fashion-mnist, mnist, cifar10 or an existing folder; '{name}' is none of these"),
    };
}
