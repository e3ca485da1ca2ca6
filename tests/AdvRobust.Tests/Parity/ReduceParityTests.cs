using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Tests.Support;

namespace AdvRobust.Tests.Parity;

/// <summary>kernels/reduce.cu row reductions against the CPU reference (double accumulators).</summary>
[TestFixture, Category("Gpu")]
public class ReduceParityTests
{
    private static readonly int[][] Shapes = [[1, 1], [7, 33], [33, 1000], [3, 65537], [1000, 7], [2, 3, 5], [17]];
    private IBackend _gpu = null!;

    [SetUp]
    public void SetUp() => _gpu = Backends.CudaOrIgnore();

    [Test]
    public void ReduceRows_RandomInput_GpuMatchesCpu([Values] ReduceOp op, [ValueSource(nameof(Shapes))] int[] shape)
    {
        int cols = shape[^1];
        var x = new SeededRandom(TestContext.CurrentContext.Test.FullName).Uniform(shape.Aggregate(1, (p, d) => p * d));
        if (x.Length > 40) x[37] = float.NaN;
        float[] Run(IBackend be)
        {
            using var tx = Tensor.FromArray(be, x, shape);
            using var ty = Tensor.Empty(be, DType.Float32, x.Length / cols);
            Ops.ReduceRows(op, tx, ty);
            return ty.ToArray();
        }
        // The GPU sums in float: allow rounding that grows with the row length.
        bool sums = op is ReduceOp.Sum or ReduceOp.SumSquares;
        AssertClose.All(Run(Backends.Cpu), Run(_gpu), sums ? 1e-6 * cols : 0, sums ? 1e-5 : 0,
            $"{op} {string.Join("x", shape)}");
    }
}
