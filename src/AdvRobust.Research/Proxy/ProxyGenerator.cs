using System.Text.Json;
using AdvRobust.Core.Data;
using AdvRobust.Core.Random;

namespace AdvRobust.Research.Proxy;

/// <summary>The simple proxy generators the engine ships (see <see cref="ProxyGenerator"/>).</summary>
public enum ProxyKind { Pca, Mixup, Noise }

/// <summary>
/// What to generate: the kind, how many images, the seed, and the kind's one knob: <see cref="K"/> principal
/// directions for PCA, noise <see cref="Sigma"/> (pixel units) for noise. Mixup has no knob.
/// </summary>
public sealed record ProxyRecipe(ProxyKind Kind, int Count, ulong Seed, int K = 10, float Sigma = 0.05f)
{
    /// <summary>The recipe as the JSON text stored in the set's "source" array (only the kind's own knob).</summary>
    public string Describe(LabeledImages real)
    {
        var fields = new Dictionary<string, object>
        {
            ["generator"] = $"advrobust proxy {Kind.ToString().ToLowerInvariant()}",
            ["count"] = Count,
            ["seed"] = Seed,
            ["real"] = real.Source,
            ["realImages"] = real.N,
        };
        if (Kind == ProxyKind.Pca) fields["k"] = K;
        if (Kind == ProxyKind.Noise) fields["sigma"] = Sigma;
        return JsonSerializer.Serialize(fields);
    }
}

/// <summary>
/// Proxy generators of known quality, all from real labelled images (Fashion-MNIST in practice), so the robust
/// discrimination pipeline runs and is tested without an external generative model. Classes are balanced: synthetic
/// sample i has class present[i mod P], where present lists the P classes of the real data in increasing order.
/// Every random draw is Philox keyed by (seed, generator stream, sample i, element) (<see cref="ProxyDraws"/>), so
/// sample i depends only on (seed, i, the real data) and samples are made in parallel. Pixels are clipped to [0, 1]
/// and quantized to uint8.
/// <list type="bullet">
/// <item><b>PCA</b> (<see cref="Pca"/>): x = μ_c + Σ_j z_j·√λ_j·v_j, z_j ~ N(0, 1), from a per-class
/// <see cref="ClassPca"/>. Small k: blurry, far from real; large k: closer, but still Gaussian.</item>
/// <item><b>Mixup</b> (<see cref="Mixup"/>): x = λ·a + (1 − λ)·b for two distinct real images a, b of the class,
/// λ ~ U[0, 1): on-manifold-ish but ghosted.</item>
/// <item><b>Noise</b> (<see cref="Noise"/>): x = a + σ·ε, ε ~ N(0, I), a a real image of the class: small σ is a
/// close proxy (ε-ball perturbations of real data), large σ a far one.</item>
/// </list>
/// </summary>
public static class ProxyGenerator
{
    /// <summary>Runs <paramref name="recipe"/> on <paramref name="real"/>; the backend only fits the PCA.</summary>
    public static ProxySet Generate(ProxyRecipe recipe, LabeledImages real, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        return recipe.Kind switch
        {
            ProxyKind.Pca => Pca(ClassPca.Fit(real, recipe.K, backend), recipe.Count, recipe.Seed,
                recipe.Describe(real)),
            ProxyKind.Mixup => Mixup(real, recipe.Count, recipe.Seed, recipe.Describe(real)),
            ProxyKind.Noise => Noise(real, recipe.Sigma, recipe.Count, recipe.Seed, recipe.Describe(real)),
            _ => throw new ArgumentOutOfRangeException(nameof(recipe), $"unknown proxy kind {recipe.Kind}"),
        };
    }

    /// <summary>Gaussian samples in each class's PCA basis; element block j of sample i feeds z_{4j…4j+3}.</summary>
    public static ProxySet Pca(ClassPca pca, int count, ulong seed, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(pca);
        int d = pca.C * pca.H * pca.W;
        return Make(count, pca.Classes.Select(c => c.Label).ToArray(), pca.C, pca.H, pca.W,
            $"pca k={pca.K} (seed {seed})", source, (i, classIndex, pixels) =>
        {
            var fit = pca.Classes[classIndex];
            Span<float> z = stackalloc float[fit.K];
            ProxyDraws.Normals(seed, ProxyDraws.StreamPca, (uint)i, 0, z);
            fit.Mean.CopyTo(pixels);
            for (int j = 0; j < fit.K; j++)
            {
                float coefficient = z[j] * (float)Math.Sqrt(fit.Variances[j]);
                var direction = fit.Directions.AsSpan(j * d, d);
                for (int x = 0; x < d; x++) pixels[x] += coefficient * direction[x];
            }
        });
    }

    /// <summary>Same-class convex combinations. Element 0 of sample i: X0 picks a, X1 picks b ≠ a, X2 gives λ.
    /// </summary>
    public static ProxySet Mixup(LabeledImages real, int count, ulong seed, string? source = null)
    {
        var members = Members(real);
        foreach (var (label, list) in members)
            if (list.Length < 2)
                throw new ArgumentException($"{real.Source}: mixup needs 2 images of each class; class {label} has 1");
        var labels = members.Select(m => m.Label).ToArray();
        return Make(count, labels, real.C, real.H, real.W, $"mixup (seed {seed})", source, (i, classIndex, pixels) =>
        {
            int[] list = members[classIndex].Images;
            var r = Philox.Draw(seed, ProxyDraws.StreamMixup, Philox.PurposeProxy, (uint)i, 0);
            int a = ProxyDraws.Below(r.X0, list.Length), b = ProxyDraws.Below(r.X1, list.Length - 1);
            if (b >= a) b++; // uniform over the other images of the class
            float lambda = Philox.Uniform(r.X2);
            var imageA = real.Image(list[a]);
            var imageB = real.Image(list[b]);
            for (int x = 0; x < pixels.Length; x++) pixels[x] = lambda * imageA[x] + (1 - lambda) * imageB[x];
        });
    }

    /// <summary>Gaussian noise on real images. Element 0 of sample i: X0 picks the image; elements 1… the noise.
    /// </summary>
    public static ProxySet Noise(LabeledImages real, float sigma, int count, ulong seed, string? source = null)
    {
        if (!(sigma >= 0 && float.IsFinite(sigma)))
            throw new ArgumentOutOfRangeException(nameof(sigma), $"noise sigma must be finite and >= 0, got {sigma}");
        var members = Members(real);
        var labels = members.Select(m => m.Label).ToArray();
        return Make(count, labels, real.C, real.H, real.W, $"noise sigma={sigma} (seed {seed})", source,
            (i, classIndex, pixels) =>
        {
            int[] list = members[classIndex].Images;
            var r = Philox.Draw(seed, ProxyDraws.StreamNoise, Philox.PurposeProxy, (uint)i, 0);
            var image = real.Image(list[ProxyDraws.Below(r.X0, list.Length)]);
            ProxyDraws.Normals(seed, ProxyDraws.StreamNoise, (uint)i, 1, pixels);
            for (int x = 0; x < pixels.Length; x++) pixels[x] = image[x] + sigma * pixels[x];
        });
    }

    /// <summary>The image indices of each class present, by increasing label.</summary>
    private static (int Label, int[] Images)[] Members(LabeledImages real)
    {
        ArgumentNullException.ThrowIfNull(real);
        if (real.N == 0) throw new ArgumentException($"{real.Source}: no real images to generate from");
        return Enumerable.Range(0, real.N).GroupBy(i => real.Labels[i]).OrderBy(g => g.Key)
            .Select(g => (g.Key, g.ToArray())).ToArray();
    }

    /// <summary>Runs <paramref name="sample"/>(i, class position, float pixels) for every i in parallel, then clips
    /// and quantizes each image into the set.</summary>
    private static ProxySet Make(int count, int[] labelsPresent, int c, int h, int w, string name, string? source,
        Action<int, int, float[]> sample)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), $"count must be >= 1, got {count}");
        int d = c * h * w;
        if ((long)count * d > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(count),
                $"{count} images of {d} pixels do not fit in one array; generate several files of at most " +
                $"{Array.MaxLength / d} images");
        var images = new byte[(long)count * d];
        var labels = new int[count];
        Parallel.For(0, count, () => new float[d], (i, _, pixels) =>
        {
            int classIndex = i % labelsPresent.Length;
            labels[i] = labelsPresent[classIndex];
            sample(i, classIndex, pixels);
            var dst = images.AsSpan(i * d, d);
            for (int x = 0; x < d; x++) dst[x] = ProxyDraws.Quantize(pixels[x]);
            return pixels;
        }, _ => { });
        return new ProxySet(count, c, h, w, images, labels, source, name);
    }
}
