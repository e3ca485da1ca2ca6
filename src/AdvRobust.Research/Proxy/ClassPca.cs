using AdvRobust.Core.Data;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Research.Proxy;

/// <summary>
/// One class's Gaussian model in a PCA basis: the class mean μ (D = C·H·W pixels), the top k principal directions
/// v_1 … v_k (unit, orthogonal; k×D row-major) and the variance λ_j of the class along each, largest first.
/// </summary>
public sealed record PcaClass(int Label, int Count, float[] Mean, float[] Directions, double[] Variances)
{
    public int K => Variances.Length;
}

/// <summary>
/// A per-class PCA of real images: for each class c with n_c ≥ 2 images, the mean μ_c and the top k eigenpairs of the
/// unbiased covariance S_c = X̃ᵀX̃/(n_c − 1) (X̃ the n_c×D centred images). S_c is one GEMM on the backend (the CPU's
/// blocked SGEMM or cuBLAS; float is ample for pixel data in [0, 1]), then symmetrized and handed in double to
/// <see cref="SymmetricEigen.Top"/>. The PCA generator samples μ_c + Σ_j z_j·√λ_j·v_j with z_j ~ N(0, 1): a Gaussian
/// that keeps the class's k main modes of variation and nothing else, so a small k is a blurry, far proxy.
/// One backend always fits the same PCA; the CPU's and cuBLAS's GEMMs round differently, so a set generated on the GPU
/// can differ from the CPU's by one grey level in a few pixels.
/// </summary>
public sealed class ClassPca
{
    private ClassPca(int k, int c, int h, int w, IReadOnlyList<PcaClass> classes, string source) =>
        (K, C, H, W, Classes, Source) = (k, c, h, w, classes, source);

    public int K { get; }
    public int C { get; }
    public int H { get; }
    public int W { get; }

    /// <summary>One entry per class present in the real data, by increasing label.</summary>
    public IReadOnlyList<PcaClass> Classes { get; }

    public string Source { get; }

    public static ClassPca Fit(LabeledImages real, int k, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(real);
        ArgumentNullException.ThrowIfNull(backend);
        int d = real.SampleSize;
        if (k < 0 || k > d) throw new ArgumentOutOfRangeException(nameof(k), $"PCA k must be in [0, {d}], got {k}");
        var fits = new List<PcaClass>();
        foreach (var group in Enumerable.Range(0, real.N).GroupBy(i => real.Labels[i]).OrderBy(g => g.Key))
        {
            int[] members = group.ToArray();
            if (members.Length < 2)
                throw new ArgumentException(
                    $"{real.Source}: class {group.Key} has {members.Length} image; a covariance needs at least 2");
            fits.Add(FitClass(real, group.Key, members, k, backend));
        }
        if (fits.Count == 0) throw new ArgumentException($"{real.Source}: no images to fit a PCA on");
        return new ClassPca(k, real.C, real.H, real.W, fits, real.Source);
    }

    private static PcaClass FitClass(LabeledImages real, int label, int[] members, int k, IBackend backend)
    {
        int n = members.Length, d = real.SampleSize;
        var mean = new double[d];
        foreach (int i in members)
        {
            var image = real.Image(i);
            for (int x = 0; x < d; x++) mean[x] += image[x];
        }
        for (int x = 0; x < d; x++) mean[x] /= n;
        var meanF = mean.Select(v => (float)v).ToArray();
        if (k == 0) return new PcaClass(label, n, meanF, [], []);

        var centred = new float[(long)n * d];
        for (int r = 0; r < n; r++)
        {
            var image = real.Image(members[r]);
            for (int x = 0; x < d; x++) centred[(long)r * d + x] = (float)(image[x] - mean[x]);
        }
        float[] cov;
        using (var xt = Tensor.FromArray(backend, centred, n, d))
        using (var s = Tensor.Empty(backend, DType.Float32, d, d))
        {
            Ops.Gemm(xt, true, xt, false, s, alpha: 1f / (n - 1));
            cov = s.ToArray();
        }
        var sym = new double[(long)d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) sym[i * d + j] = 0.5 * ((double)cov[i * d + j] + cov[j * d + i]);
        var (values, vectors) = SymmetricEigen.Top(sym, d, k);
        // Tiny negative eigenvalues are rounding (a covariance is positive semi-definite): clamp them to 0.
        return new PcaClass(label, n, meanF, vectors.Select(v => (float)v).ToArray(),
            values.Select(v => Math.Max(v, 0)).ToArray());
    }
}
