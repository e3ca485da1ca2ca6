using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

public static partial class Ops
{
    /// <summary>
    /// dst[index[i],:] += src[i,:] for i = 0..N-1, in increasing i (index -1 skips row i; any other index outside
    /// [0, M) is an error): the backward of <see cref="GatherRows"/>. Every destination row sums its sources in index
    /// order on every backend, so the result is deterministic and the same on CPU and GPU. With dst filled with −0 and
    /// distinct indices it copies rows to an offset exactly (−0 + v = v for every v, signed zeros included).
    /// </summary>
    public static void ScatterAddRows(Tensor src, Tensor index, Tensor dst)
    {
        const string op = nameof(ScatterAddRows);
        var backend = SameBackend(op, src, index, dst);
        RequireF32(op, src);
        RequireF32(op, dst);
        RequireRank(op, src, 2);
        RequireRank(op, dst, 2);
        Require(index.DType == DType.Int32 && index.Rank == 1 && index.Shape[0] == src.Shape[0], op,
            $"index must be a 1-D Int32 tensor of {src.Shape[0]} entries, got {index.DType}{index.Shape}");
        Require(dst.Shape[1] == src.Shape[1], op, $"dst {dst.Shape} and src {src.Shape} differ in width");
        backend.ScatterAddRows(src, index, dst);
    }
}
