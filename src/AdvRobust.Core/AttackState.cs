using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

/// <summary>How <see cref="IBackend.AttackTrack"/> ranks a candidate (the rule of Attacks/Best.cs): KeepHighestLoss
/// off, a success beats a failure, the first success is kept and among failures the higher loss wins; on, the higher
/// loss wins.</summary>
public readonly record struct AttackTrackParams(bool KeepHighestLoss);

/// <summary>
/// One attack run's per-sample worst case, on the device, for N samples: Loss, Success (Int32 0/1) and Set (Int32
/// 0/1: a candidate was ever taken), Current (the loss of the last tracked iterate, taken or not), X (the best
/// iterate, shaped like the batch; null when the caller keeps none) and Pending (Int32, one value, the early-stopping
/// flag: 1 when some sample had not succeeded after a tracking since the flag was last read; every such sample
/// writes the same 1, so it needs no atomics, and the kernel's arguments stay the same every step, so a captured
/// step graph replays it). Created unset: all zeros.
/// </summary>
public sealed class BestState : IDisposable
{
    public BestState(IBackend backend, int n, Tensor? like)
    {
        Loss = Tensor.Empty(backend, DType.Float32, n);
        Success = Tensor.Empty(backend, DType.Int32, n);
        Set = Tensor.Empty(backend, DType.Int32, n);
        Current = Tensor.Empty(backend, DType.Float32, n);
        Pending = Tensor.Empty(backend, DType.Int32, 1);
        X = like is null ? null : Tensor.Empty(backend, DType.Float32, like.Shape.Dims.ToArray());
        // Fill writes 0f, whose bits are the Int32 0: every flag and counter starts cleared, without an upload.
        foreach (var t in new[] { Loss, Success, Set, Current, Pending }) backend.Fill(t, 0f);
    }

    public Tensor Loss { get; }
    public Tensor Success { get; }
    public Tensor Set { get; }
    public Tensor Current { get; }
    public Tensor Pending { get; }
    public Tensor? X { get; }
    public int Count => Loss.Shape[0];

    /// <summary>
    /// Whether no sample was unsuccessful after any tracking since the last call: one 4-byte read (a synchronization
    /// on a GPU), then the flag is cleared. Success is final under the Best rule (KeepHighestLoss off), so a true
    /// answer means every sample has succeeded; a sample that succeeded only within the last calls' window makes the
    /// answer false once more, which delays the stop by one period and changes no result.
    /// </summary>
    public bool AllSucceeded()
    {
        Span<int> pending = stackalloc int[1];
        Pending.Backend.CopyOut(Pending.Storage, pending);
        Pending.Backend.Fill(Pending, 0f);
        return pending[0] == 0;
    }

    public bool[] ReadSuccess() => Success.ToArray<int>().Select(v => v != 0).ToArray();

    public void Dispose()
    {
        Loss.Dispose();
        Success.Dispose();
        Set.Dispose();
        Current.Dispose();
        Pending.Dispose();
        X?.Dispose();
    }
}

/// <summary>Checkpoint of <see cref="IBackend.ApgdSchedule"/>: whether this iteration ends a window of
/// <paramref name="Window"/> steps, and ρ of the oscillation test.</summary>
public readonly record struct ApgdScheduleParams(bool Checkpoint, int Window, float Rho);

/// <summary>
/// APGD's per-sample state on the device for N samples of D values (Attacks/Apgd.cs): Step (η), LossBest (best loss
/// of the run), BestAtCheck (LossBest at the last checkpoint), LossPrev (loss at the previous iterate), Increases
/// (Int32: steps of this window whose loss rose), HalvedLast (Float32 0 or 1, so Fill can set it: halved at the
/// last checkpoint), and the
/// batch-shaped XBest and GradBest (the best point and its gradient), XOld (the previous iterate) and Z (scratch of
/// <see cref="IBackend.ApgdStep"/>). The caller initializes them at the start of a run.
/// </summary>
public sealed class ApgdState : IDisposable
{
    public ApgdState(IBackend backend, Tensor like)
    {
        int n = like.Shape[0];
        var dims = like.Shape.Dims.ToArray();
        Step = Tensor.Empty(backend, DType.Float32, n);
        LossBest = Tensor.Empty(backend, DType.Float32, n);
        BestAtCheck = Tensor.Empty(backend, DType.Float32, n);
        LossPrev = Tensor.Empty(backend, DType.Float32, n);
        Increases = Tensor.Empty(backend, DType.Int32, n);
        HalvedLast = Tensor.Empty(backend, DType.Float32, n);
        XBest = Tensor.Empty(backend, DType.Float32, dims);
        GradBest = Tensor.Empty(backend, DType.Float32, dims);
        XOld = Tensor.Empty(backend, DType.Float32, dims);
        Z = Tensor.Empty(backend, DType.Float32, dims);
    }

    public Tensor Step { get; }
    public Tensor LossBest { get; }
    public Tensor BestAtCheck { get; }
    public Tensor LossPrev { get; }
    public Tensor Increases { get; }
    public Tensor HalvedLast { get; }
    public Tensor XBest { get; }
    public Tensor GradBest { get; }
    public Tensor XOld { get; }
    public Tensor Z { get; }

    public void Dispose()
    {
        foreach (var t in new[] { Step, LossBest, BestAtCheck, LossPrev, Increases, HalvedLast, XBest, GradBest, XOld, Z })
            t.Dispose();
    }
}
