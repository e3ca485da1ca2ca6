using AdvRobust.Core.Autograd;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Nn;

/// <summary>
/// How many images fit in one batch: the memory an attack step takes per image (measured once per model by a forward
/// and backward pass to the input on one blank image, on a tape that owns every intermediate, plus the attack's own
/// per-image buffers) against what the backend has free. Attacks, evaluation, detection and smoothing key every random
/// draw by sample index, so a batch split into chunks that fit gives the same results; a caller prints the note.
/// </summary>
public static class BatchMemory
{
    /// <summary>Share of the free memory a batch may take (the rest: the model, the data set, the runtime).</summary>
    public const double Share = 0.5;

    /// <summary>Per-image copies an attack keeps beside the tape (x, x0, gradient, best iterate, momentum, ...).</summary>
    public const int AttackBuffers = 16;

    /// <summary>Replaces the measured free memory (tests, and `ADVROBUST_MEMORY_LIMIT`, in bytes); null to measure.</summary>
    public static long? AvailableOverride { get; set; } =
        long.TryParse(Environment.GetEnvironmentVariable("ADVROBUST_MEMORY_LIMIT"), out long limit) && limit > 0
            ? limit
            : null;

    /// <summary>Free memory now: the override, else the backend's figure, else free physical memory of this process's
    /// machine or container (GC memory info: total available minus the current load).</summary>
    public static long Available(IBackend backend)
    {
        if (AvailableOverride is long fixedBytes) return fixedBytes;
        if (backend is IMemoryInfo info) return info.AvailableBytes;
        return CpuAvailable();
    }

    /// <summary>Free physical memory as the GC sees it (total available to the process minus the machine's load).</summary>
    public static long CpuAvailable()
    {
        var gc = GC.GetGCMemoryInfo();
        return Math.Max(gc.TotalAvailableMemoryBytes - gc.MemoryLoadBytes, 0);
    }

    /// <summary>Bytes one image takes in an attack step on <paramref name="model"/> (measured, see the class).</summary>
    public static long PerImageBytes(Classifier model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var backend = model.Parameters().FirstOrDefault()?.Value.Backend
            ?? throw new ArgumentException("the model has no parameters to tell its backend");
        int[] shape = [1, .. model.InputShape];
        long imageBytes = shape.Aggregate(1L, (a, d) => a * d) * sizeof(float);
        using var mode = new Attacks.ModelMode(model, keepTrainingMode: false);
        using var x = Tensor.Zeros(backend, shape);
        using var labels = Tensor.FromArray(backend, new int[1], 1);
        using var tape = new Tape(backend, parameterGradients: false);
        var input = tape.Input(x);
        var output = model.Forward(tape, input);
        tape.Backward(F.Sum(tape, F.CrossEntropy(tape, output.Logits, labels)));
        return tape.OwnedBytes + AttackBuffers * imageBytes;
    }

    /// <summary>
    /// The batch size to use for <paramref name="requested"/>: the request if it fits in <see cref="Share"/> of the
    /// free memory, else the largest that does (at least 1), with a note saying so and why.
    /// </summary>
    public static BatchPlan Fit(Classifier model, int requested, string option = "--batch-size")
    {
        if (requested < 1) throw new ArgumentException($"{option} must be at least 1, got {requested}");
        long perImage = PerImageBytes(model);
        var backend = model.Parameters().First().Value.Backend;
        long available = Available(backend), budget = (long)(available * Share);
        long fits = Math.Max(budget / Math.Max(perImage, 1), 1);
        if (requested <= fits) return new BatchPlan(requested, requested, perImage, available, null);
        int batch = (int)fits;
        return new BatchPlan(requested, batch, perImage, available,
            $"{option} {requested} needs about {Mib(perImage * requested)} ({Mib(perImage)} per image) but " +
            $"{Mib(available)} is free; running batches of {batch} instead (same results: random draws are keyed " +
            "by sample index)");
    }

    /// <summary>Bytes as people read them: "452.1 MiB", "12.3 GiB".</summary>
    public static string Mib(long bytes) => bytes >= 10L << 30
        ? $"{bytes / (double)(1L << 30):F1} GiB"
        : $"{bytes / (double)(1L << 20):F1} MiB";
}

/// <summary>A batch size checked against free memory: the one asked for, the one to use, and the figures.</summary>
public sealed record BatchPlan(int Requested, int Batch, long PerImageBytes, long AvailableBytes, string? Note);
