using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Data;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Tensors;
using AdvRobust.Research.Training;
using AdvRobust.Research.Training.Objectives;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Training.Objectives;

/// <summary>Data, batches and gradient probes for the objective tests. Shape letters: B batch, 1×4×4 images, K classes.
/// </summary>
internal static class ObjectiveTestData
{
    /// <summary>
    /// A separable set of 1×4×4 images: image i has class i mod K, background uniform in [0.1, 0.3] and image row c
    /// raised by 0.6 for class c, so an l-inf perturbation of 0.1 cannot hide the class.
    /// </summary>
    public static LabeledImages Separable(SeededRandom rng, int n, int classes = 3) =>
        Separable(rng, Enumerable.Range(0, n).Select(i => i % classes).ToArray(), classes);

    /// <summary>As above with the given labels.</summary>
    public static LabeledImages Separable(SeededRandom rng, int[] labels, int classes)
    {
        const int d = TinyNet.Side * TinyNet.Side;
        int n = labels.Length;
        float[] pixels = rng.Uniform((long)n * d, 0.1f, 0.3f);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < TinyNet.Side; k++) pixels[i * d + labels[i] * TinyNet.Side + k] += 0.6f;
        return new LabeledImages(n, 1, TinyNet.Side, TinyNet.Side, pixels, labels, classes, "separable test set");
    }

    /// <summary>The images at <paramref name="indices"/> as a training batch; the indices are the sample ids.</summary>
    public static TrainingBatch Batch(IBackend backend, LabeledImages data, int[] indices, long step, ulong seed = 11)
    {
        var subset = data.Subset(indices);
        var x = Tensor.FromArray(backend, subset.Pixels, indices.Length, data.C, data.H, data.W);
        var y = Tensor.FromArray(backend, subset.Labels, indices.Length);
        return new TrainingBatch(x, y, indices.Select(i => (uint)i).ToArray(), 0, step, seed);
    }

    public static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();

    public static void Dispose(TrainingBatch batch)
    {
        batch.X.Dispose();
        batch.Labels.Dispose();
    }

    /// <summary>Every parameter gradient of the model, by name (zeros where none was accumulated).</summary>
    public static Dictionary<string, float[]> ParameterGradients(ImageClassifier model) =>
        model.NamedParameters().ToDictionary(p => p.Name,
            p => p.Parameter.Grad?.ToArray() ?? new float[p.Parameter.Value.Length]);

    /// <summary>
    /// Back-propagates <paramref name="forward"/>'s loss once (model in train mode), then compares, for every
    /// parameter tensor, the gradient at its <paramref name="perTensor"/> largest entries with central finite
    /// differences of the same loss, re-evaluated with that one entry moved by ±h.
    /// </summary>
    public static void AssertGradientMatchesFiniteDifferences(ImageClassifier model, Func<Tape, LossTerms> forward,
        int perTensor = 3, float h = 2e-3f, double atol = 2e-3, double rtol = 3e-2)
    {
        var backend = model.Parameters().First().Value.Backend;
        model.Train();
        model.ZeroGrad();
        using (var tape = new Tape(backend))
            tape.Backward(forward(tape).Loss);
        foreach (var (name, p) in model.NamedParameters())
        {
            float[] g = p.Grad!.ToArray(), values = p.Value.ToArray();
            int[] picks = Enumerable.Range(0, g.Length).OrderByDescending(i => Math.Abs(g[i])).Take(perTensor)
                .ToArray();
            float[] probe = picks.Select(i => values[i]).ToArray();
            double Loss()
            {
                for (int k = 0; k < picks.Length; k++) values[picks[k]] = probe[k];
                backend.CopyIn(p.Value.Storage, (ReadOnlySpan<float>)values);
                using var tape = new Tape(backend, parameterGradients: false);
                return forward(tape).Loss.Value.ToArray()[0];
            }
            float[] numeric = FiniteDifference.Gradient(Loss, probe, h);
            Loss(); // probe is restored: write the original values back
            AssertClose.All(numeric, picks.Select(i => g[i]).ToArray(), atol, rtol, $"d loss / d {name}");
        }
    }

    /// <summary>Softmax cross-entropy of one row of logits, in double.</summary>
    public static double CrossEntropy(ReadOnlySpan<float> z, int y, double smoothing = 0)
    {
        double max = double.NegativeInfinity, sum = 0, mean = 0;
        foreach (float v in z) max = Math.Max(max, v);
        foreach (float v in z) sum += Math.Exp(v - max);
        double logSum = max + Math.Log(sum);
        foreach (float v in z) mean += (logSum - v) / z.Length;
        return (1 - smoothing) * (logSum - z[y]) + smoothing * mean;
    }

    /// <summary>|cos| of two rows, in double.</summary>
    public static double AbsCosine(ReadOnlySpan<float> u, ReadOnlySpan<float> v)
    {
        double uv = 0, uu = 0, vv = 0;
        for (int k = 0; k < u.Length; k++) (uv, uu, vv) = (uv + u[k] * v[k], uu + u[k] * u[k], vv + v[k] * v[k]);
        return Math.Abs(uv / (Math.Max(Math.Sqrt(uu), 1e-8) * Math.Max(Math.Sqrt(vv), 1e-8)));
    }

    /// <summary>Logits and embeddings of x in the model's current mode (a forward pass of its own).</summary>
    public static (float[] Logits, float[] Embedding) Outputs(ImageClassifier model, Tensor x)
    {
        using var tape = new Tape(x.Backend, parameterGradients: false);
        var o = model.Forward(tape, tape.Constant(x));
        return (o.Logits.Value.ToArray(), o.Embedding.Value.ToArray());
    }
}
