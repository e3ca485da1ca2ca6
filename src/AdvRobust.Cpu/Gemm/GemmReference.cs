namespace AdvRobust.Cpu;

/// <summary>
/// The plain SGEMM that <see cref="Sgemm"/> is tested against: C = alpha * op(A) op(B) + beta * C, row-major,
/// one double accumulator per element, op(A) M×K, op(B) K×N, C M×N. As in reference BLAS, beta == 0 overwrites C
/// without reading it (NaN in C does not survive) and alpha == 0 does not read A or B.
/// </summary>
internal static class GemmReference
{
    public static void Run(ReadOnlySpan<float> a, bool transA, ReadOnlySpan<float> b, bool transB, Span<float> c,
        int m, int n, int k, float alpha, float beta)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double aip = transA ? a[p * m + i] : a[i * k + p];
                    double bpj = transB ? b[j * k + p] : b[p * n + j];
                    sum += aip * bpj;
                }
                double prior = beta == 0f ? 0 : (double)beta * c[i * n + j];
                c[i * n + j] = alpha == 0f ? (float)prior : (float)(alpha * sum + prior);
            }
        }
    }
}
