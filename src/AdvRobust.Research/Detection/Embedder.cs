using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Detection;

/// <summary>
/// N inputs as the model sees them: the penultimate embeddings (N×D, row-major, <see cref="ModelOutput.Embedding"/>)
/// and the predicted classes (argmax of the logits, lowest index on a tie).
/// </summary>
public sealed record Embedded(float[] Values, int Dim, int[] Predictions)
{
    public int Count => Predictions.Length;
}

/// <summary>
/// Forward passes for detection: eval mode (batch norm on running statistics, restored afterwards), an attack-mode
/// tape with the input as a constant, so nothing is recorded and no gradient is ever computed.
/// </summary>
public static class Embedder
{
    /// <summary>Embeds one N×C×H×W batch already on the model's backend.</summary>
    public static Embedded Embed(Classifier model, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(x);
        using var mode = new ModelMode(model, keepTrainingMode: false);
        using var tape = new Tape(x.Backend, parameterGradients: false);
        var output = model.Forward(tape, tape.Constant(x));
        var embedding = output.Embedding.Value;
        if (embedding.Rank != 2 || embedding.Shape[0] != x.Shape[0])
            throw new InvalidOperationException(
                $"{model.GetType().Name} returned an embedding of shape {embedding.Shape} for a batch of {x.Shape[0]}");
        return new Embedded(embedding.ToArray(), embedding.Shape[1], Predictions.Argmax(output.Logits.Value));
    }

    /// <summary>
    /// Embeds every image of <paramref name="data"/> in batches of <paramref name="batchSize"/> on
    /// <paramref name="backend"/>; <paramref name="progress"/> hears the number of images done after each batch.
    /// </summary>
    public static Embedded Embed(Classifier model, IBackend backend, LabeledImages data, int batchSize,
        IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentException($"batch size must be positive, got {batchSize}");
        int d = model.EmbeddingDim;
        var values = new float[(long)data.N * d];
        var predictions = new int[data.N];
        for (int start = 0; start < data.N; start += batchSize)
        {
            int rows = Math.Min(batchSize, data.N - start);
            using var x = Batch(backend, data, start, rows);
            var batch = Embed(model, x);
            if (batch.Dim != d)
                throw new InvalidOperationException(
                    $"{model.GetType().Name} says its embedding has {d} features but returned {batch.Dim}");
            batch.Values.CopyTo(values, (long)start * d);
            batch.Predictions.CopyTo(predictions, start);
            progress?.Report(start + rows);
        }
        return new Embedded(values, d, predictions);
    }

    /// <summary>Images [start, start + rows) of <paramref name="data"/> as an N×C×H×W tensor.</summary>
    public static Tensor Batch(IBackend backend, LabeledImages data, int start, int rows) =>
        Tensor.FromArray<float>(backend, data.Pixels.AsSpan(start * data.SampleSize, rows * data.SampleSize),
            rows, data.C, data.H, data.W);
}
