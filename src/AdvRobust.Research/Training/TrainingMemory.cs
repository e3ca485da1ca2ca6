using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Models;

namespace AdvRobust.Research.Training;

/// <summary>
/// The memory check of a training batch, made before the run folder exists. Unlike an attack batch a training batch
/// cannot be split without changing the run (batch norm's statistics, the loss mean, TLA's negative pool), so a batch
/// that does not fit is refused with the figures. Estimate: <see cref="BatchMemory.PerImageBytes"/> per image per
/// train-mode pass of the objective (TLA three: anchor, positive and the negative pool; TRADES two; the others one,
/// their attack tapes being freed before the update), over the real and the proxy images of a step.
/// </summary>
public static class TrainingMemory
{
    /// <summary>Forward passes per step whose activations are alive at once, by objective kind.</summary>
    public static int Passes(string objective) => objective switch
    {
        "tla" => 3,
        "trades" => 2,
        _ => 1,
    };

    /// <summary>Throws <see cref="ArgumentException"/> when a step of <paramref name="config"/> on
    /// <paramref name="model"/> needs more than <see cref="BatchMemory.Share"/> of the free memory.</summary>
    public static void Check(ImageClassifier model, TrainConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        int proxy = config.Data.Synthetic is { } s ? s.BatchSize ?? config.BatchSize : 0;
        int passes = Passes(config.Objective.Kind);
        long perImage = BatchMemory.PerImageBytes(model) * passes;
        long need = perImage * (config.BatchSize + proxy);
        long available = BatchMemory.Available(model.Parameters().First().Value.Backend);
        long budget = (long)(available * BatchMemory.Share);
        if (need <= budget) return;
        string images = proxy > 0 ? $"{config.BatchSize} real + {proxy} proxy images" : $"{config.BatchSize} images";
        long fits = Math.Max(budget / Math.Max(perImage, 1) - proxy, 0);
        throw new ArgumentException(
            $"batchSize {config.BatchSize}: a {config.Objective.Kind} step on {images} needs about " +
            $"{BatchMemory.Mib(need)} ({BatchMemory.Mib(perImage)} per image, {passes} pass{(passes == 1 ? "" : "es")}) " +
            $"but {BatchMemory.Mib(available)} is free and a batch may use half; a training batch cannot be split " +
            $"without changing the run, so choose --set batchSize={Math.Max(fits, 1)} or less");
    }
}
