using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

/// <summary>
/// The ops whose per-step values (Philox key, learning rate) are read from device memory instead of kernel arguments,
/// so that a step captured once as a CUDA graph replays with each step's values (<see cref="DeviceKey"/>). Each draws
/// or computes exactly what its argument-keyed twin does with the same values.
/// </summary>
public static partial class Ops
{
    /// <summary><see cref="PgdRandomStart(PgdNorm, Tensor, Tensor, PgdParams, ulong, uint, uint)"/> keyed by
    /// <paramref name="key"/>; row s is the global sample key.FirstSample + (uint)sampleIds[s] (Int32 N).</summary>
    public static void PgdRandomStart(PgdNorm norm, Tensor x, Tensor x0, PgdParams p, DeviceKey key, Tensor sampleIds)
    {
        const string op = nameof(PgdRandomStart);
        var backend = SameBackend(op, x, x0, key.Tensor, sampleIds);
        RequireF32(op, x);
        RequireF32(op, x0);
        RequireSameShape(op, x, x0);
        CheckPgdParams(op, p);
        Require(x.Rank >= 1, op, "x needs a batch axis");
        RequireIds(op, sampleIds, x.Shape[0]);
        backend.PgdRandomStart(norm, x, x0, p, key.Tensor, sampleIds);
    }

    /// <summary><see cref="RandomCropFlip(Tensor, Tensor, int, bool, ulong, uint, uint)"/> keyed by
    /// <paramref name="key"/> (stream and first sample included).</summary>
    public static void RandomCropFlip(Tensor x, Tensor y, int pad, bool flip, DeviceKey key)
    {
        const string op = nameof(RandomCropFlip);
        var backend = SameBackend(op, x, y, key.Tensor);
        RequireRank(op, x, 4);
        RequireSameShape(op, x, y);
        Require(pad >= 0 && pad < Math.Min(x.Shape[2], x.Shape[3]), op, $"padding {pad} for {x.Shape}");
        backend.RandomCropFlip(x, y, pad, flip, key.Tensor);
    }

    /// <summary><see cref="GaussianNoise(Tensor, Tensor, float, ulong, uint, Tensor)"/> keyed by
    /// <paramref name="key"/>: row s is sample key.FirstSample + (uint)sampleIds[s].</summary>
    public static void GaussianNoise(Tensor x, Tensor y, float sigma, DeviceKey key, Tensor sampleIds)
    {
        const string op = nameof(GaussianNoise);
        var backend = CheckNoise(op, x, y, sigma);
        SameBackend(op, y, key.Tensor, sampleIds);
        RequireIds(op, sampleIds, y.Shape[0]);
        backend.GaussianNoise(x, y, sigma, key.Tensor, sampleIds);
    }

    /// <summary><see cref="SgdStep(SgdParams, Tensor, Tensor, Tensor)"/> with the learning rate read from
    /// <paramref name="lr"/> (Float32[1], finite and ≥ 0: checked by whoever writes it); p.LearningRate is unused.</summary>
    public static void SgdStep(SgdParams p, Tensor lr, Tensor param, Tensor grad, Tensor momentum)
    {
        const string op = nameof(SgdStep);
        var backend = SameBackend(op, lr, param, grad, momentum);
        RequireF32(op, lr);
        RequireShape(op, lr, new Shape(1));
        RequireSameShape(op, param, grad);
        RequireSameShape(op, param, momentum);
        param.Storage.MarkWritten();
        backend.SgdStep(p, lr, param, grad, momentum);
    }

    private static void RequireIds(string op, Tensor sampleIds, int rows)
    {
        Require(sampleIds.DType == DType.Int32, op, $"sampleIds must be Int32, got {sampleIds.DType}");
        RequireShape(op, sampleIds, new Shape(rows));
    }
}
