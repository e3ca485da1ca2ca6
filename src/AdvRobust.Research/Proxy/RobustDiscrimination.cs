using System.Diagnostics;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Proxy;

/// <summary>
/// How each discriminator is built, trained and attacked. <see cref="Arch"/> is "tiny" (<see cref="TinyCnn"/> of
/// <see cref="Width"/>) or a <see cref="ModelZoo"/> name such as "small-cnn". Training: SGD with momentum, weight decay
/// on weights only, a cosine learning rate over all steps, each batch replaced by its l-inf PGD examples at the
/// discriminator's own ε (<see cref="TrainSteps"/> steps, Madry PGD-AT; plain training at ε = 0). The training ε ramps
/// linearly from 0 over the first <see cref="EpsWarmup"/> of the steps: started cold at the full ε, the tiny
/// discriminator learned far less (Fashion-MNIST vs PCA k = 2, 3 epochs: 57% instead of 75% robust accuracy at
/// ε = 0.05, and a constant guess at ε = 0.1), the usual failure of PGD-AT from scratch that this ramp answers.
/// Testing: l-inf PGD at the full ε, <see cref="EvalSteps"/> steps, random start. PGD's step size is
/// <see cref="StepFactor"/>·ε/steps; the attacks see the model in eval mode (batch norm, if any, on running
/// statistics), the update in train mode.
/// </summary>
public sealed record DiscriminatorSettings(
    string Arch = "tiny",
    int Width = 8,
    int Epochs = 4,
    int BatchSize = 32,
    float LearningRate = 0.05f,
    float Momentum = 0.9f,
    float WeightDecay = 5e-4f,
    int TrainSteps = 5,
    int EvalSteps = 10,
    float StepFactor = 2.5f,
    int EvalBatchSize = 256,
    float EpsWarmup = 0.5f)
{
    public void Validate()
    {
        if (Epochs < 1 || BatchSize < 1 || EvalBatchSize < 1 || TrainSteps < 1 || EvalSteps < 1 || Width < 1)
            throw new ArgumentException(
                $"discriminator settings need epochs, batch sizes, attack steps and width >= 1: {this}");
        if (!(LearningRate > 0 && float.IsFinite(LearningRate)) || !(StepFactor > 0 && float.IsFinite(StepFactor)))
            throw new ArgumentException($"learning rate and PGD step factor must be positive: {this}");
        if (!(EpsWarmup >= 0 && EpsWarmup <= 1))
            throw new ArgumentException($"the eps warm-up is a fraction of training in [0, 1], got {EpsWarmup}");
        if (!Architectures.Contains(Arch))
            throw new ArgumentException(
                $"unknown discriminator architecture '{Arch}'; known: {string.Join(", ", Architectures)}");
    }

    /// <summary>The discriminators one can ask for: "tiny", then every <see cref="ModelZoo"/> name.</summary>
    public static IReadOnlyList<string> Architectures { get; } = ["tiny", .. ModelZoo.Architectures];
}

/// <summary>One discriminator's result at budget <see cref="Eps"/>: robust accuracy on the balanced test set (and on
/// each side), its clean accuracy, and its last training epoch's loss and accuracy on the examples it trained on.
/// </summary>
public sealed record DiscriminationPoint(double Eps, double Accuracy, double RealAccuracy, double SyntheticAccuracy,
    double CleanAccuracy, double TrainLoss, double TrainAccuracy, double Seconds);

/// <summary>What a discrimination run reports while it works: Done of Total training batches at one ε.</summary>
public readonly record struct DiscriminationProgress(double Eps, int Done, int Total);

/// <summary>
/// The robust real-versus-synthetic discriminator of papers.md §2.4: for each ε of a grid, a fresh two-class
/// classifier (same initial weights for every ε) is adversarially trained at ε on real (label 1) vs synthetic
/// (label 0) images and its robust accuracy under PGD at the same ε is measured on held-out images of both sides.
/// The curve of those accuracies gives the proxy's <see cref="Arc"/>. Every random draw follows from the seed:
/// the image picks, the initial weights, the loader's order and each PGD's random starts (Philox sub-seeds).
/// </summary>
public sealed class RobustDiscrimination
{
    private const uint TagInit = 3, TagLoader = 4, TagEvalAttack = 5, TagTrainAttack = 1000;

    public RobustDiscrimination(IBackend backend, DiscriminatorSettings settings, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        (Backend, Settings, Seed) = (backend, settings, seed);
    }

    public IBackend Backend { get; }
    public DiscriminatorSettings Settings { get; }
    public ulong Seed { get; }

    /// <summary>Trains and tests one discriminator per ε (ascending) and returns the accuracy curve.</summary>
    public IReadOnlyList<DiscriminationPoint> Curve(DiscriminationData data, IReadOnlyList<double> eps,
        IProgress<DiscriminationProgress>? progress = null)
    {
        Arc.CheckGrid(eps); // before any training
        return eps.Select(e => Measure(data, e, progress)).ToArray();
    }

    /// <summary>Adversarially trains a discriminator at <paramref name="eps"/> and measures it at the same ε.</summary>
    public DiscriminationPoint Measure(DiscriminationData data, double eps,
        IProgress<DiscriminationProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!(eps >= 0 && double.IsFinite(eps))) throw new ArgumentException($"eps must be finite and >= 0, got {eps}");
        var watch = Stopwatch.StartNew();
        using var model = CreateModel(data.Train);
        var (loss, trainAccuracy) = Train(model, data.Train, eps, progress);
        var (accuracy, real, synthetic, clean) = Test(model, data, (float)eps);
        return new DiscriminationPoint(eps, accuracy, real, synthetic, clean, loss, trainAccuracy,
            watch.Elapsed.TotalSeconds);
    }

    /// <summary>The discriminator, normalizing by the per-channel mean and std of its training images.</summary>
    public ImageClassifier CreateModel(LabeledImages train)
    {
        ArgumentNullException.ThrowIfNull(train);
        var (mean, std) = ChannelStatistics(train);
        int[] shape = [train.C, train.H, train.W];
        var init = new ParameterInit(Backend, ProxyDraws.SubSeed(Seed, TagInit));
        return Settings.Arch == "tiny"
            ? new TinyCnn(init, 2, shape, mean, std, Settings.Width)
            : ModelZoo.Create(Settings.Arch, init, 2, shape, mean, std);
    }

    private (double Loss, double Accuracy) Train(ImageClassifier model, LabeledImages train, double eps,
        IProgress<DiscriminationProgress>? progress)
    {
        var s = Settings;
        using var loader = new ShuffleLoader(train, s.BatchSize, ProxyDraws.SubSeed(Seed, TagLoader));
        int total = s.Epochs * loader.BatchesPerEpoch, done = 0;
        var sgd = new Sgd(model, LrSchedule.Cosine(s.LearningRate, total), s.Momentum, s.WeightDecay,
            decayWeightsOnly: true);
        double lossSum = 0;
        int correct = 0, seen = 0;
        long warmup = (long)Math.Ceiling(s.EpsWarmup * total);
        for (int epoch = 0; epoch < s.Epochs; epoch++)
        {
            ulong attackSeed = ProxyDraws.SubSeed(Seed, TagTrainAttack + (uint)epoch);
            (lossSum, correct, seen) = (0, 0, 0); // the last epoch's figures are the ones reported
            foreach (var batch in loader.Epoch(epoch))
            {
                int b = batch.Count;
                float e = (float)(done < warmup ? eps * (done + 1) / warmup : eps);
                var attack = e > 0
                    ? new Pgd(new PgdSettings(PgdNorm.Linf, e, s.StepFactor * e / s.TrainSteps, s.TrainSteps,
                        KeepHighestLoss: true, Seed: attackSeed))
                    : null;
                using var x = Tensor.FromArray(Backend, batch.X, b, train.C, train.H, train.W);
                using var y = Tensor.FromArray(Backend, batch.Y, b);
                using var adv = attack?.Run(model, x, y, batch.Indices.Select(i => (uint)i).ToArray());
                model.Train();
                sgd.ZeroGrad();
                using var tape = new Tape(Backend);
                var logits = model.Forward(tape, tape.Constant(adv?.Adversarial ?? x)).Logits;
                var loss = F.Mean(tape, F.CrossEntropy(tape, logits, y));
                tape.Backward(loss);
                sgd.Step();
                lossSum += loss.Value.ToArray()[0] * b;
                int[] pred = Predictions.Argmax(logits.Value);
                for (int i = 0; i < b; i++) correct += pred[i] == batch.Y[i] ? 1 : 0;
                seen += b;
                done++; // not inside Report's arguments: `progress?.` skips them when there is no listener
                progress?.Report(new DiscriminationProgress(eps, done, total));
            }
        }
        return (lossSum / seen, (double)correct / seen);
    }

    private (double Accuracy, double Real, double Synthetic, double Clean) Test(ImageClassifier model,
        DiscriminationData data, float eps)
    {
        var s = Settings;
        // At ε = 0 PGD can move nothing: a zero-step run is just the clean prediction.
        var attack = eps > 0
            ? new Pgd(new PgdSettings(PgdNorm.Linf, eps, s.StepFactor * eps / s.EvalSteps, s.EvalSteps,
                Seed: ProxyDraws.SubSeed(Seed, TagEvalAttack)))
            : new Pgd(new PgdSettings(PgdNorm.Linf, 0, 0, 0, RandomStart: false));
        var result = new RobustEvaluation([attack], s.EvalBatchSize).Run(model, data.Test);
        int n = data.TestPerSide;
        double real = result.Robust.Take(n).Count(r => r) / (double)n;
        double synthetic = result.Robust.Skip(n).Count(r => r) / (double)n;
        return ((real + synthetic) / 2, real, synthetic, result.CleanAccuracy);
    }

    /// <summary>Per-channel mean and standard deviation of the images (std floored at 10⁻³ for blank data).</summary>
    private static (float[] Mean, float[] Std) ChannelStatistics(LabeledImages images)
    {
        int plane = images.H * images.W;
        var mean = new float[images.C];
        var std = new float[images.C];
        for (int c = 0; c < images.C; c++)
        {
            double sum = 0, squares = 0;
            for (int i = 0; i < images.N; i++)
                foreach (float v in images.Pixels.AsSpan((i * images.C + c) * plane, plane))
                    (sum, squares) = (sum + v, squares + (double)v * v);
            long count = (long)images.N * plane;
            double m = sum / count;
            mean[c] = (float)m;
            std[c] = (float)Math.Max(Math.Sqrt(Math.Max(squares / count - m * m, 0)), 1e-3);
        }
        return (mean, std);
    }
}
