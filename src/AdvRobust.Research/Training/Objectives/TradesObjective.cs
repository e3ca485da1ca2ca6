using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Training.Objectives;

/// <summary>
/// Settings of <see cref="TradesObjective"/> (JSON e.g. {"beta": 6, "eps": 0.1}). The defaults are TRADES' CIFAR-10
/// run as PORT uses it (papers.md §2.2): β = 6, l-inf ε = 8/255, 10 steps of 2/255. <see cref="Mnist"/> is TRADES'
/// MNIST script: ε = 0.3, 40 steps of 0.01, β = 1.
/// </summary>
public sealed record TradesSettings
{
    /// <summary>Weight of the robustness (KL) term against the clean cross-entropy.</summary>
    public float Beta { get; init; } = 6f;

    public PgdNorm Norm { get; init; } = PgdNorm.Linf;
    public float Eps { get; init; } = 8f / 255;

    /// <summary>Ascent step α on the KL: α·sign(g) for l-inf, α·g/‖g‖ for l2, then projection and clip to [0, 1].
    /// </summary>
    public float StepSize { get; init; } = 2f / 255;

    public int Steps { get; init; } = 10;

    public static TradesSettings Cifar10 => new();
    public static TradesSettings Mnist => new() { Beta = 1f, Eps = 0.3f, StepSize = 0.01f, Steps = 40 };

    internal void Validate()
    {
        SettingsCheck.NonNegative("trades", "beta", Beta);
        SettingsCheck.Attack("trades", Norm, Eps, StepSize, Steps);
    }
}

/// <summary>
/// TRADES (Zhang et al. 2019) as PORT trains it (papers.md §2.2):
/// loss = mean_i CE(f(x_i), y_i) + β · (1/B) Σ_i KL(p(x_i) ‖ p(x'_i)), with p = softmax(f). That KL is what TRADES'
/// code computes, kl_div(log_softmax(f(x')), softmax(f(x))), and what the paper writes as KL(f(x) ‖ f(x')) or loosely
/// KL(f(x') ‖ f(x)): the clean distribution is the reference. Gradients flow through both forward passes.
/// The inner maximisation (model in eval mode, no weight gradients) starts from x + 0.001·N(0, 1), the noise drawn
/// from Philox keyed by (seed, step, sample id, pixel) and the start clipped to [0, 1], then takes K ascent steps on
/// that KL with the clean distribution held fixed, each projected onto the ε-ball and [0, 1]
/// (<see cref="Ops.PgdStep"/>).
/// The two training forward passes (clean, adversarial) each use their own batch statistics, as in the reference.
/// Components: "ce" and "kl" (loss = ce + β·kl); the reported accuracy is on the clean batch.
/// </summary>
public sealed class TradesObjective : IDeviceStatsObjective
{
    /// <summary>σ of the Gaussian start around x (TRADES' 0.001).</summary>
    private const float StartNoise = 0.001f;

    public TradesObjective(TradesSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Config = settings;
    }

    public TradesSettings Config { get; }
    public string Name => "trades";
    public object Settings => Config;

    public StepStats Step(ImageClassifier model, TrainingBatch batch) =>
        ObjectiveSteps.ReadNow(((IDeviceStatsObjective)this).StepOnDevice(model, batch));

    PendingStats IDeviceStatsObjective.StepOnDevice(ImageClassifier model, TrainingBatch batch)
    {
        int[] labels = ObjectiveSteps.Check(Name, model, batch);
        using var adversarial = Attack(model, batch);
        return ObjectiveSteps.Train(model, batch, labels, tape => Forward(tape, model, adversarial, batch));
    }

    /// <summary>The adversarial batch x' of this step (owned by the caller). Leaves the model in train mode.</summary>
    internal Tensor Attack(ImageClassifier model, TrainingBatch batch)
    {
        var x = batch.X;
        int[] dims = x.Shape.Dims.ToArray();
        Tensor adversarial;
        if (batch.Device is { } device) adversarial = Start(x, device.Uploads.Get(NoiseName, dims));
        else
        {
            using var z = Tensor.FromArray(x.Backend, Noise(batch), dims);
            adversarial = Start(x, z);
        }
        try
        {
            using (new ModelMode(model, keepTrainingMode: false))
            using (var clean = ObjectiveSteps.Logits(model, x))
            {
                var step = new PgdParams(Config.StepSize, Config.Eps);
                for (int s = 0; s < Config.Steps; s++)
                {
                    using var tape = new Tape(x.Backend, parameterGradients: false);
                    var input = tape.Input(adversarial);
                    var logits = model.Forward(tape, input).Logits;
                    tape.Backward(F.KlDivergence(tape, tape.Constant(clean), logits));
                    Ops.PgdStep(Config.Norm, adversarial, x, input.Grad!, step);
                }
            }
            model.Train();
            return adversarial;
        }
        catch
        {
            adversarial.Dispose();
            throw;
        }
    }

    /// <summary>The loss on a given adversarial batch (model already in train mode).</summary>
    internal LossTerms Forward(Tape tape, ImageClassifier model, Tensor adversarial, TrainingBatch batch)
    {
        var clean = model.Forward(tape, tape.Constant(batch.X)).Logits;
        var adv = model.Forward(tape, tape.Constant(adversarial)).Logits;
        var ce = F.Mean(tape, F.CrossEntropy(tape, clean, batch.Labels));
        var kl = F.KlDivergence(tape, clean, adv);
        var loss = F.Add(tape, ce, F.Scale(tape, kl, Config.Beta));
        return new LossTerms(loss, clean, [("ce", ce), ("kl", kl)]);
    }

    /// <summary>The graphed step's host half: the start noise goes up before the step (<see cref="TrainStepGraph"/>).</summary>
    void IDeviceStatsObjective.Prepare(ImageClassifier model, TrainingBatch batch) =>
        batch.Device!.Uploads.Put(NoiseName, Noise(batch), batch.X.Shape.Dims.ToArray());

    private const string NoiseName = "trades.noise";

    /// <summary>z standard normal from Philox keyed by (step key, sample id, pixel): it depends only on the ids, so
    /// the host draws it (and uploads it); x never leaves the device.</summary>
    private static float[] Noise(TrainingBatch batch)
    {
        var x = batch.X;
        ulong key = StepRandom.StepKey(batch.Seed, batch.Step);
        var noise = new float[x.Length];
        int d = (int)x.Shape.PerSample;
        for (int s = 0; s < batch.SampleIds.Length; s++)
            for (int k = 0; k < d; k++)
                noise[s * d + k] = StepRandom.Normal(key, StepRandom.PurposeTradesNoise, batch.SampleIds[s], (uint)k);
        return noise;
    }

    /// <summary>
    /// clip(x + 0.001·z, 0, 1): start = 1·x + 0.001·z (<see cref="Ops.Axpby"/>: the float product 0.001·z added to x,
    /// as the host loop did), then the clip.
    /// </summary>
    private static Tensor Start(Tensor x, Tensor z)
    {
        var start = Tensor.Empty(x.Backend, DType.Float32, x.Shape.Dims.ToArray());
        try
        {
            Ops.Copy(x, start);
            Ops.Axpby(StartNoise, z, 1f, start);
            Ops.Clamp(start, 0f, 1f, start);
            return start;
        }
        catch
        {
            start.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
    }
}
