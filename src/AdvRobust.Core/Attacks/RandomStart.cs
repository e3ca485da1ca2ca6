using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Attacks;

/// <summary>
/// Random starting perturbations keyed by global sample index. <see cref="Ops.PgdRandomStart"/> keys row s by
/// firstSample + s, so a batch whose sample ids are not consecutive (the still-robust points of an evaluation) is cut
/// into runs of consecutive ids, one call per run, assembled on the host and copied in once. Each row's noise is
/// therefore bit-identical whatever batch the sample is in.
/// </summary>
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

    private static bool IsRange(uint[] ids)
    {
        for (int i = 1; i < ids.Length; i++) if (ids[i] != ids[i - 1] + 1) return false;
        return true;
    }
}
