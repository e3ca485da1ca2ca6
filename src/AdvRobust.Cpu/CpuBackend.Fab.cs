using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// CPU twin of kernels/fab.cu: the host arithmetic FAB-T ran before its steps moved to the device, called on the
// backend's own memory (Fab.Step, Fab.Accept and FabProjection in Core, in double, breakpoints sorted). Shape
// letters: x, x0, grad, best N×... seen as N rows of D pixels; logits N×K; labels, targets N Int32; bestNorm N
// doubles in 2N floats. One task per row; each thread keeps one projection workspace, so a step allocates nothing
// once the workspaces have grown to D.
public sealed partial class CpuBackend
{
    [ThreadStatic] private static FabProjection.Workspace? _fabWorkspace;

    // f = z_t − z_y (float), then Fab.Step on the row.
    public void FabStep(FabParams p, Tensor x, Tensor x0, Tensor grad, Tensor logits, Tensor labels, Tensor targets)
    {
        int n = x.Shape[0], d = (int)x.Shape.PerSample, k = logits.Shape[1];
        CpuParallel.For(0, n, i =>
        {
            ReadOnlySpan<float> z = logits.F().Slice(i * k, k);
            float f = z[targets.I()[i]] - z[labels.I()[i]];
            var ws = _fabWorkspace is { } w && w.Capacity >= d ? w : _fabWorkspace = new FabProjection.Workspace(d);
            Fab.Step(p.Norm, p.AlphaMax, p.Eta, x.F().Slice(i * d, d), x0.F().Slice(i * d, d),
                grad.F().Slice(i * d, d), f, ws);
        });
    }

    // pred = argmax of the row (lowest index wins a tie), then Fab.Accept on the row.
    public void FabAccept(FabParams p, Tensor x, Tensor x0, Tensor logits, Tensor labels, Tensor best, Tensor bestNorm)
    {
        int n = x.Shape[0], d = (int)x.Shape.PerSample, k = logits.Shape[1];
        CpuParallel.For(0, n, i =>
        {
            ReadOnlySpan<float> z = logits.F().Slice(i * k, k);
            int pred = 0;
            for (int j = 1; j < k; j++)
                if (z[j] > z[pred]) pred = j;
            Span<double> norms = System.Runtime.InteropServices.MemoryMarshal.Cast<float, double>(bestNorm.F());
            Fab.Accept(p.Norm, p.Beta, pred, labels.I()[i], x.F().Slice(i * d, d), x0.F().Slice(i * d, d),
                best.F().Slice(i * d, d), ref norms[i]);
        });
    }
}
