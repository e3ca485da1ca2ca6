using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// Random starting perturbations keyed by global sample index. <see cref="Ops.PgdRandomStart"/> keys row s by
/// firstSample + s, so a batch whose sample ids are not consecutive (the still-robust points of an evaluation) is cut
/// into runs of consecutive ids, one call per run, assembled on the host and copied in once. Each row's noise is
/// therefore bit-identical whatever batch the sample is in.
/// </summary>
/// <summary>A random start keyed from the device: <see cref="Key"/> holds (seed, stream, 0) and
/// <see cref="SampleIds"/> the batch's global sample ids (Int32 N), both written before the step.</summary>
public sealed record DeviceStart(DeviceKey Key, Tensor SampleIds);

internal static class RandomStart
{
    /// <summary>
    /// δ with the shape of <paramref name="like"/>: uniform in the l-inf ball or the l2 ball of radius eps (the
    /// PgdRandomStart draw around a zero center, box [−eps, eps], which leaves δ unclipped).
    /// </summary>
    public static Tensor Delta(Tensor like, PgdNorm norm, float eps, ulong seed, uint stream, uint[] ids)
    {
        var backend = like.Backend;
        var dims = like.Shape.Dims.ToArray();
        var p = new PgdParams(Alpha: 0f, Eps: eps, Lo: -eps, Hi: eps);
        var delta = Tensor.Zeros(backend, dims);
        try
        {
            if (ids.Length == 0) return delta;
            if (IsRange(ids))
            {
                using var center = Tensor.Zeros(backend, dims);
                Ops.PgdRandomStart(norm, delta, center, p, seed, stream, ids[0]);
                return delta;
            }
            int d = Rows.Width(like);
            var host = new float[(long)ids.Length * d];
            for (int start = 0; start < ids.Length;)
            {
                int end = start + 1;
                while (end < ids.Length && ids[end] == ids[end - 1] + 1) end++;
                dims[0] = end - start;
                using var center = Tensor.Zeros(backend, dims);
                using var run = Tensor.Empty(backend, DType.Float32, dims);
                Ops.PgdRandomStart(norm, run, center, p, seed, stream, ids[start]);
                run.ToArray().CopyTo(host, (long)start * d);
                start = end;
            }
            backend.CopyIn(delta.Storage, (ReadOnlySpan<float>)host);
            return delta;
        }
        catch
        {
            delta.Dispose();
            throw;
        }
    }

    /// <summary>x = clamp(x0 + δ, 0, 1) with δ from <see cref="Delta"/>, into x.</summary>
    public static void Uniform(Tensor x, Tensor x0, PgdNorm norm, float eps, ulong seed, uint stream, uint[] ids)
    {
        using var delta = Delta(x0, norm, eps, seed, stream, ids);
        Ops.Binary(BinaryOp.Add, x0, delta, x);
        Ops.Clamp(x, 0f, 1f, x);
    }

    /// <summary>
    /// <see cref="Uniform(Tensor, Tensor, PgdNorm, float, ulong, uint, uint[])"/> with the seed, stream and sample ids
    /// read on the device (<paramref name="start"/>): the same δ (each row's draw is a function of its own id), the
    /// same add and clamp, and no host work, so a captured training step can replay it with each step's key and ids.
    /// </summary>
    public static void Uniform(Tensor x, Tensor x0, PgdNorm norm, float eps, DeviceStart start)
    {
        var backend = x0.Backend;
        var dims = x0.Shape.Dims.ToArray();
        using var delta = Tensor.Zeros(backend, dims);
        using (var center = Tensor.Zeros(backend, dims))
            Ops.PgdRandomStart(norm, delta, center, new PgdParams(Alpha: 0f, Eps: eps, Lo: -eps, Hi: eps), start.Key,
                start.SampleIds);
        Ops.Binary(BinaryOp.Add, x0, delta, x);
        Ops.Clamp(x, 0f, 1f, x);
    }

    private static bool IsRange(uint[] ids)
    {
        for (int i = 1; i < ids.Length; i++) if (ids[i] != ids[i - 1] + 1) return false;
        return true;
    }
}
