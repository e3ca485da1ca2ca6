using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/gather.cu. Shape letters: src N×D, index N (Int32), dst M×D.
public sealed partial class CpuBackend
{
    // ---- ScatterAddRows ----
    // dst[index[i],:] += src[i,:] for i = 0..N-1 in that order; index -1 skips row i. Float additions, one per
    // (source row, column), in increasing i for each destination element: exactly the order of the CUDA kernel.
    // Every index is checked before anything is written, so a bad index leaves dst untouched.
    public void ScatterAddRows(Tensor src, Tensor index, Tensor dst)
    {
        int m = dst.Shape[0], d = dst.Shape[1];
        ReadOnlySpan<int> idx = index.I();
        for (int i = 0; i < idx.Length; i++)
        {
            if (idx[i] < -1 || idx[i] >= m)
                throw new ArgumentOutOfRangeException(nameof(index), idx[i],
                    $"ScatterAddRows: index[{i}] = {idx[i]} is outside the {m} destination rows and is not -1");
        }
        ReadOnlySpan<float> from = src.F();
        Span<float> to = dst.F();
        for (int i = 0; i < idx.Length; i++)
        {
            if (idx[i] < 0) continue;
            var row = to.Slice(idx[i] * d, d);
            var source = from.Slice(i * d, d);
            for (int c = 0; c < d; c++) row[c] += source[c];
        }
    }
}
