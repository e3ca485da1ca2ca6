using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/attack.cu: attack bookkeeping kept in per-run state tensors. Shape letters: N samples, K
// classes, M loss terms per sample, D values per sample. Each loop reproduces, operation for operation, the host code
// and backend ops the attacks ran before this bookkeeping moved to the device, so CPU results stay bit for bit.
public sealed partial class CpuBackend
{
    // ---- AttackTrack ----
    // Per sample s (sequential, no allocation):
    //   loss_s = M == 1 ? loss[s] : ((0 + loss[s,0]) + loss[s,1]) + ...        (float, left to right)
    //   pred   = first j with the largest logits[s, j];   success = t ? pred == t[s] : pred != y[s]
    //   take   = !set || (keepHighest ? loss_s > best : (success && !bestSuccess) || (!success && !bestSuccess &&
    //            loss_s > best));  if take: set, bestSuccess, best = 1, success, loss_s; X[s] = x[s]
    //   Current[s] = loss_s;  if !bestSuccess_new: Pending = 1.
    public void AttackTrack(AttackTrackParams p, Tensor logits, Tensor loss, Tensor labels, Tensor? targets, Tensor x,
        BestState best)
    {
        int n = best.Count, k = logits.Shape[1], m = (int)(loss.Length / n), d = (int)(x.Length / n);
        ReadOnlySpan<float> z = logits.F(), l = loss.F(), xs = x.F();
        ReadOnlySpan<int> y = labels.I(), t = targets is null ? default : targets.I();
        Span<float> bestLoss = best.Loss.F(), current = best.Current.F(), bestX = best.X is null ? default : best.X.F();
        Span<int> bestSuccess = best.Success.I(), set = best.Set.I(), pending = best.Pending.I();
        for (int s = 0; s < n; s++)
        {
            float ls = RowSum(l.Slice(s * m, m));
            int pred = Argmax(z.Slice(s * k, k));
            bool success = targets is null ? pred != y[s] : pred == t[s];
            current[s] = ls;
            bool had = bestSuccess[s] != 0;
            bool take = set[s] == 0 || (p.KeepHighestLoss
                ? ls > bestLoss[s]
                : (success && !had) || (!success && !had && ls > bestLoss[s]));
            if (take)
            {
                (set[s], bestSuccess[s], bestLoss[s]) = (1, success ? 1 : 0, ls);
                if (best.X is not null) xs.Slice(s * d, d).CopyTo(bestX.Slice(s * d, d));
            }
            if (bestSuccess[s] == 0) pending[0] = 1;
        }
    }

    private static float RowSum(ReadOnlySpan<float> terms)
    {
        if (terms.Length == 1) return terms[0];
        float sum = 0f;
        foreach (float v in terms) sum += v;
        return sum;
    }

    private static int Argmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int j = 1; j < row.Length; j++) if (row[j] > row[best]) best = j;
        return best;
    }

    // ---- ApgdStep ----
    // Per sample s with η = Step[s], in float unless noted (the former op sequence Sign/ChannelAffine or
    // ReduceRows+host scale, Add, PgdStep with a zero gradient, Sub, Axpby, Add, PgdStep):
    //   Linf: u_k = sign(g_k)·η;  L2: u_k = g_k·(η / (sqrt((float)Σ(double)g²) + 1e-12))
    //   z_k = x_k + u_k;  z = P(z);  m_k = x_k − xOld_k;  xOld_k = x_k;  x_k = x_k + ((1 − a)·m_k + a·(z_k − x_k));
    //   x = P(x).  P = the PgdStep projection with zero step (Linf per element in float, L2 per sample in double).
    public void ApgdStep(PgdNorm norm, float eps, float momentum, Tensor x, Tensor x0, Tensor grad, ApgdState s)
    {
        int n = x.Shape[0], d = (int)x.Shape.PerSample;
        CpuParallel.For(0, n, i =>
        {
            Span<float> xi = x.F().Slice(i * d, d), old = s.XOld.F().Slice(i * d, d), z = s.Z.F().Slice(i * d, d);
            ReadOnlySpan<float> x0i = x0.F().Slice(i * d, d), g = grad.F().Slice(i * d, d);
            float eta = s.Step.F()[i];
            float scale = norm == PgdNorm.L2 ? eta / ((float)Math.Sqrt(SumSquares(g)) + 1e-12f) : eta;
            for (int k = 0; k < d; k++)
            {
                float u = norm == PgdNorm.L2 ? g[k] * scale : SignOf(g[k]) * scale;
                z[k] = xi[k] + u;
            }
            Project(norm, z, x0i, eps);
            float a = momentum, b = 1f - momentum;
            for (int k = 0; k < d; k++)
            {
                float m = xi[k] - old[k];
                old[k] = xi[k];
                xi[k] = xi[k] + (b * m + a * (z[k] - xi[k]));
            }
            Project(norm, xi, x0i, eps);
        });
    }

    private static float SignOf(float v) => v > 0f ? 1f : v < 0f ? -1f : 0f;

    /// <summary>PgdStep with alpha = 0 and a zero gradient on [0, 1], written out (see LinfStep and L2Step).</summary>
    private static void Project(PgdNorm norm, Span<float> x, ReadOnlySpan<float> x0, float eps)
    {
        if (norm == PgdNorm.Linf)
        {
            for (int k = 0; k < x.Length; k++)
            {
                float v = x[k] + 0f;
                v = MathF.Min(MathF.Max(v, x0[k] - eps), x0[k] + eps);
                x[k] = MathF.Min(MathF.Max(v, 0f), 1f);
            }
            return;
        }
        double dn2 = 0;
        for (int k = 0; k < x.Length; k++)
        {
            double dk = x[k] + 0.0 - x0[k];
            dn2 += dk * dk;
        }
        double dn = Math.Sqrt(dn2);
        double shrink = dn > eps ? eps / dn : 1.0;
        for (int k = 0; k < x.Length; k++)
        {
            double dk = x[k] + 0.0 - x0[k];
            x[k] = MathF.Min(MathF.Max((float)(x0[k] + dk * shrink), 0f), 1f);
        }
    }

    // ---- ApgdSchedule ----
    // Per sample s, with f = loss[s]:
    //   Increases += f > LossPrev;  LossPrev = f;
    //   if f > LossBest: LossBest = f; XBest[s] = x[s]; GradBest[s] = grad[s]
    //   at a checkpoint: halve = Increases <= window·ρ || (!HalvedLast && BestAtCheck >= LossBest);
    //     if halve: Step /= 2, x[s] = XBest[s], grad[s] = GradBest[s];  HalvedLast = halve; BestAtCheck = LossBest;
    //     Increases = 0.
    public void ApgdSchedule(ApgdScheduleParams p, Tensor loss, Tensor x, Tensor grad, ApgdState s)
    {
        int n = x.Shape[0], d = (int)x.Shape.PerSample;
        ReadOnlySpan<float> f = loss.F();
        Span<float> xs = x.F(), gs = grad.F(), xBest = s.XBest.F(), gBest = s.GradBest.F();
        Span<float> step = s.Step.F(), best = s.LossBest.F(), atCheck = s.BestAtCheck.F(), prev = s.LossPrev.F();
        Span<int> increases = s.Increases.I();
        Span<float> halvedLast = s.HalvedLast.F();
        for (int i = 0; i < n; i++)
        {
            if (f[i] > prev[i]) increases[i]++;
            prev[i] = f[i];
            if (f[i] > best[i])
            {
                best[i] = f[i];
                xs.Slice(i * d, d).CopyTo(xBest.Slice(i * d, d));
                gs.Slice(i * d, d).CopyTo(gBest.Slice(i * d, d));
            }
            if (!p.Checkpoint) continue;
            bool halve = increases[i] <= p.Window * p.Rho || (halvedLast[i] == 0f && atCheck[i] >= best[i]);
            if (halve)
            {
                step[i] /= 2f;
                xBest.Slice(i * d, d).CopyTo(xs.Slice(i * d, d));
                gBest.Slice(i * d, d).CopyTo(gs.Slice(i * d, d));
            }
            halvedLast[i] = halve ? 1f : 0f;
            atCheck[i] = best[i];
            increases[i] = 0;
        }
    }
}
