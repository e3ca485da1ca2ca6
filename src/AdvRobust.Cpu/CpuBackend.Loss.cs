using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/loss.cu. Shape letters: logits z N×K (K classes), labels y N (Int32 in [0, K)).
// Every row is computed in double and rounded once.
//   SoftmaxCrossEntropy, label smoothing ε: target t = (1 − ε)·onehot(y) + ε/K;
//     m = max z;  lse = m + log Σ exp(z − m);  log p = z − lse;  probs = exp(z − m)/Σ exp(z − m)
//     loss = −Σ_j t_j·log p_j = −(1 − ε)·log p_y − (ε/K)·Σ_j log p_j
//   Backward: dz_j = (probs_j − t_j)·gradLoss[i]
//   LogSoftmax: y = z − lse;  backward dx = dy − exp(y)·Σ dy
//   Margins (NnKinds.MarginKind), j* = argmax over j ≠ y (lowest index on ties), π the classes sorted by value
//   descending then index ascending; loss = −num/den:
//     CW:          loss = z_j* − z_y                                  dz_j* += g, dz_y −= g
//     Dlr:         num = z_y − z_j*, den = z_π1 − z_π3 + 1e-12
//     TargetedDlr: num = z_y − z_t,  den = z_π1 − (z_π3 + z_π4)/2 + 1e-12
//     (subgradient) dloss/dz_y −= 1/den, dz_j* (or z_t) += 1/den, dz_π1 += num/den², dz_π3 −= num/den²
//     (TargetedDlr: dz_π3 and dz_π4 each −= num/(2·den²)); all times g = gradLoss[i], contributions to one class add.
public sealed partial class CpuBackend
{
    private const double DlrEpsilon = 1e-12;

    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, float labelSmoothing, Tensor loss, Tensor probs)
    {
        int n = logits.Shape[0], k = logits.Shape[1];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> z = logits.F().Slice(i * k, k);
            Span<float> pr = probs.F().Slice(i * k, k);
            int y = LabelAt(labels, i, k);
            double max = RowMax(z), sumExp = 0, sumZ = 0;
            foreach (float v in z)
            {
                sumExp += Math.Exp(v - max);
                sumZ += v;
            }
            double lse = max + Math.Log(sumExp);
            for (int j = 0; j < k; j++) pr[j] = (float)(Math.Exp(z[j] - max) / sumExp);
            // Σ_j log p_j = Σ z − K·lse.
            double eps = labelSmoothing;
            loss.F()[i] = (float)(-(1 - eps) * (z[y] - lse) - eps / k * (sumZ - k * lse));
        }
    }

    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, float labelSmoothing, Tensor gradLoss,
        Tensor gradLogits)
    {
        int n = probs.Shape[0], k = probs.Shape[1];
        double off = (double)labelSmoothing / k, on = 1 - (double)labelSmoothing + off;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> pr = probs.F().Slice(i * k, k);
            Span<float> dz = gradLogits.F().Slice(i * k, k);
            int y = LabelAt(labels, i, k);
            double g = gradLoss.F()[i];
            for (int j = 0; j < k; j++) dz[j] = (float)((pr[j] - (j == y ? on : off)) * g);
        }
    }

    public void LogSoftmax(Tensor x, Tensor y)
    {
        int k = x.Shape[1];
        for (int i = 0; i < x.Shape[0]; i++)
        {
            ReadOnlySpan<float> z = x.F().Slice(i * k, k);
            Span<float> ys = y.F().Slice(i * k, k);
            double max = RowMax(z), sumExp = 0;
            foreach (float v in z) sumExp += Math.Exp(v - max);
            double lse = max + Math.Log(sumExp);
            for (int j = 0; j < k; j++) ys[j] = (float)(z[j] - lse);
        }
    }

    public void LogSoftmaxBackward(Tensor y, Tensor dy, Tensor dx)
    {
        int k = y.Shape[1];
        for (int i = 0; i < y.Shape[0]; i++)
        {
            ReadOnlySpan<float> ys = y.F().Slice(i * k, k), dys = dy.F().Slice(i * k, k);
            Span<float> dxs = dx.F().Slice(i * k, k);
            double sum = 0;
            foreach (float v in dys) sum += v;
            for (int j = 0; j < k; j++) dxs[j] = (float)(dys[j] - Math.Exp(ys[j]) * sum);
        }
    }

    public void MarginLoss(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor loss)
    {
        int k = logits.Shape[1];
        for (int i = 0; i < logits.Shape[0]; i++)
        {
            var m = MarginTerms(kind, logits.F().Slice(i * k, k), LabelAt(labels, i, k),
                targets is null ? -1 : LabelAt(targets, i, k));
            loss.F()[i] = (float)(-m.Num / m.Den);
        }
    }

    public void MarginLossBackward(MarginKind kind, Tensor logits, Tensor labels, Tensor? targets, Tensor gradLoss,
        Tensor gradLogits)
    {
        int k = logits.Shape[1];
        Span<int> at = stackalloc int[5];
        Span<double> sum = stackalloc double[5];
        for (int i = 0; i < logits.Shape[0]; i++)
        {
            var m = MarginTerms(kind, logits.F().Slice(i * k, k), LabelAt(labels, i, k),
                targets is null ? -1 : LabelAt(targets, i, k));
            double g = gradLoss.F()[i];
            // loss = −num/den: ∂/∂num = −1/den, ∂/∂den = num/den². Terms for one class add in double.
            double dNum = -g / m.Den, dDen = g * m.Num / (m.Den * m.Den);
            int used = 0;
            AddTo(at, sum, ref used, m.Y, dNum);
            AddTo(at, sum, ref used, m.Other, -dNum);
            if (kind != MarginKind.CW) AddTo(at, sum, ref used, m.Pi1, dDen);
            if (kind == MarginKind.Dlr) AddTo(at, sum, ref used, m.Pi3, -dDen);
            if (kind == MarginKind.TargetedDlr)
            {
                AddTo(at, sum, ref used, m.Pi3, -dDen / 2);
                AddTo(at, sum, ref used, m.Pi4, -dDen / 2);
            }
            Span<float> dz = gradLogits.F().Slice(i * k, k);
            dz.Clear();
            for (int t = 0; t < used; t++) dz[at[t]] = (float)sum[t];
        }
    }

    private static void AddTo(Span<int> at, Span<double> sum, ref int used, int j, double v)
    {
        for (int t = 0; t < used; t++)
        {
            if (at[t] != j) continue;
            sum[t] += v;
            return;
        }
        at[used] = j;
        sum[used++] = v;
    }

    /// <summary>loss = −Num/Den; Y the label, Other j* (or the target), Pi1/Pi3/Pi4 the sorted classes used.</summary>
    private readonly record struct Margin(double Num, double Den, int Y, int Other, int Pi1, int Pi3, int Pi4);

    private static Margin MarginTerms(MarginKind kind, ReadOnlySpan<float> z, int y, int target)
    {
        int other = -1;
        for (int j = 0; j < z.Length; j++)
            if (j != y && (other < 0 || z[j] > z[other])) other = j;
        if (kind == MarginKind.CW) return new Margin(z[y] - (double)z[other], 1.0, y, other, -1, -1, -1);
        Span<int> top = stackalloc int[4];
        TopFour(z, top);
        if (kind == MarginKind.Dlr)
            return new Margin(z[y] - (double)z[other], z[top[0]] - (double)z[top[2]] + DlrEpsilon, y, other, top[0],
                top[2], -1);
        double den = z[top[0]] - ((double)z[top[2]] + z[top[3]]) / 2 + DlrEpsilon;
        return new Margin(z[y] - (double)z[target], den, y, target, top[0], top[2], top[3]);
    }

    /// <summary>The indices of the (up to) four largest values, by value descending then index ascending.</summary>
    private static void TopFour(ReadOnlySpan<float> z, Span<int> top)
    {
        int count = 0;
        for (int j = 0; j < z.Length; j++)
        {
            // Later indices lose ties, so j moves ahead of an entry only when strictly larger.
            int at = count;
            while (at > 0 && z[j] > z[top[at - 1]]) at--;
            if (at >= top.Length) continue;
            for (int t = Math.Min(count, top.Length - 1); t > at; t--) top[t] = top[t - 1];
            top[at] = j;
            count = Math.Min(count + 1, top.Length);
        }
    }

    private static double RowMax(ReadOnlySpan<float> z)
    {
        float max = float.NegativeInfinity;
        foreach (float v in z) max = MathF.Max(max, v);
        return max;
    }

    private static int LabelAt(Tensor labels, int i, int classes)
    {
        int y = labels.I()[i];
        if ((uint)y >= (uint)classes)
            throw new ArgumentOutOfRangeException(nameof(labels), $"label {y} of row {i} is outside [0, {classes})");
        return y;
    }
}
