using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

// Row ranges without the host. Tensors have no storage offsets (every op assumes a whole, contiguous storage), so a
// row range is an op, not a view: it copies device to device on the backend's stream and never synchronizes.
// Shape letters: rows are axis 0; R = elements per row (the product of the other axes, equal for src and dst).
public static partial class Ops
{
    /// <summary>
    /// dst rows [dstRow, dstRow + count) = src rows [srcRow, srcRow + count): concatenating a batch on the device
    /// (real then synthetic rows), or filling a pool block by block. src and dst may be one tensor only when the
    /// ranges do not overlap.
    /// </summary>
    public static void CopyRows(Tensor src, int srcRow, Tensor dst, int dstRow, int count)
    {
        const string op = nameof(CopyRows);
        var backend = SameBackend(op, src, dst);
        Require(src.DType == dst.DType, op, $"src holds {src.DType} but dst {dst.DType}");
        Require(src.Rank >= 1 && dst.Rank >= 1, op, "src and dst need a row axis 0");
        long width = RowWidth(src);
        Require(width == RowWidth(dst), op,
            $"rows of src {src.Shape} hold {width} elements but rows of dst {dst.Shape} hold {RowWidth(dst)}");
        Require(count >= 0 && srcRow >= 0 && dstRow >= 0, op, $"negative range (src {srcRow}, dst {dstRow}, count {count})");
        Require((long)srcRow + count <= src.Shape[0], op, $"src rows [{srcRow}, {srcRow + (long)count}) outside {src.Shape}");
        Require((long)dstRow + count <= dst.Shape[0], op, $"dst rows [{dstRow}, {dstRow + (long)count}) outside {dst.Shape}");
        Require(!ReferenceEquals(src.Storage, dst.Storage) || srcRow + count <= dstRow || dstRow + count <= srcRow, op,
            $"overlapping ranges in one tensor (src {srcRow}, dst {dstRow}, count {count})");
        if (count == 0 || width == 0) return;
        dst.Storage.MarkWritten();
        backend.CopyRange(src, srcRow * width, dst, dstRow * width, count * width);
    }

    private static long RowWidth(Tensor t)
    {
        long width = 1;
        for (int axis = 1; axis < t.Rank; axis++) width *= t.Shape[axis];
        return width;
    }
}
