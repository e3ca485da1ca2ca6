using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cuda;

public sealed partial class CudaBackend
{
    public void AttackTrack(AttackTrackParams p, Tensor logits, Tensor loss, Tensor labels, Tensor? targets, Tensor x,
        BestState best)
    {
        int n = best.Count;
        Kernels.AttackTrack(P(logits), logits.Shape[1], P(loss), checked((int)(loss.Length / n)), P(labels),
            targets is null ? 0UL : P(targets), P(x), checked((int)(x.Length / n)), P(best.Loss), P(best.Success),
            P(best.Set), P(best.Current), best.X is null ? 0UL : P(best.X), P(best.Pending), p.KeepHighestLoss,
            n);
    }

    public void ApgdStep(PgdNorm norm, float eps, float momentum, Tensor x, Tensor x0, Tensor grad, ApgdState s) =>
        Kernels.ApgdStep(P(x), P(s.XOld), P(x0), P(grad), P(s.Step), P(s.Z), eps, momentum, PerSample(x),
            norm == PgdNorm.L2, x.Shape[0]);

    public void ApgdSchedule(ApgdScheduleParams p, Tensor loss, Tensor x, Tensor grad, ApgdState s) =>
        Kernels.ApgdSchedule(P(loss), P(x), P(grad), P(s.XBest), P(s.GradBest), P(s.Step), P(s.LossBest),
            P(s.BestAtCheck), P(s.LossPrev), P(s.Increases), P(s.HalvedLast), PerSample(x), p.Checkpoint, p.Window,
            p.Rho, x.Shape[0]);
}
