using AdvRobust.Core;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;
using AdvRobust.Tests.Support;
using static AdvRobust.Tests.Cpu.ElementwiseTests;

namespace AdvRobust.Tests.Cpu;

/// <summary>
/// The CPU elementwise drivers mix three paths: parallel chunks, the Vector256 body and the scalar tail. A tensor
/// large enough to be chunked is computed whole and again in pieces of 7 (scalar tail only) and 1000 (one thread,
/// vector body plus tail), which puts every element on another path; the bits must not change.
/// </summary>
public class ElementwisePathTests
{
    private const int N = 4 * ElementwiseChunks.MinChunk + 5;
    private static IBackend Cpu => Backends.Cpu;

    private static SeededRandom Rng() => new(TestContext.CurrentContext.Test.FullName);

    [Test]
    public void Unary_ChunkedVectorAndScalarPaths_AgreeBitwise([Values] UnaryOp op)
    {
        var rng = Rng();
        var x = Inputs(rng, op, N);
        AssertPiecewiseBitwise((s, n) =>
        {
            using var tx = Tensor.FromArray(Cpu, x.AsSpan(s, n), n);
            using var ty = Ops.Unary(op, tx);
            return ty.ToArray();
        });
        var dy = rng.Uniform(N);
        AssertPiecewiseBitwise((s, n) =>
        {
            using var tx = Tensor.FromArray(Cpu, x.AsSpan(s, n), n);
            using var tdy = Tensor.FromArray(Cpu, dy.AsSpan(s, n), n);
            using var tdx = Tensor.Empty(Cpu, DType.Float32, n);
            Ops.UnaryBackward(op, tx, tdy, tdx);
            return tdx.ToArray();
        });
    }

    [Test]
    public void Binary_ChunkedVectorAndScalarPaths_AgreeBitwise([Values] BinaryOp op)
    {
        var rng = Rng();
        var a = rng.Uniform(N, -3f, 3f);
        var b = SecondOperand(rng, N);
        AssertPiecewiseBitwise((s, n) =>
        {
            using var ta = Tensor.FromArray(Cpu, a.AsSpan(s, n), n);
            using var tb = Tensor.FromArray(Cpu, b.AsSpan(s, n), n);
            Ops.Binary(op, ta, tb, ta);
            return ta.ToArray();
        });
    }

    [Test]
    public void AxpbyAndClamp_ChunkedVectorAndScalarPaths_AgreeBitwise()
    {
        var rng = Rng();
        var x = rng.Uniform(N, -3f, 3f);
        var y = rng.Uniform(N, -3f, 3f);
        AssertPiecewiseBitwise((s, n) =>
        {
            using var tx = Tensor.FromArray(Cpu, x.AsSpan(s, n), n);
            using var ty = Tensor.FromArray(Cpu, y.AsSpan(s, n), n);
            Ops.Axpby(0.3f, tx, 1.7f, ty);
            return ty.ToArray();
        });
        AssertPiecewiseBitwise((s, n) =>
        {
            using var tx = Tensor.FromArray(Cpu, x.AsSpan(s, n), n);
            Ops.Clamp(tx, -1f, 2f, tx);
            return tx.ToArray();
        });
    }

    /// <summary>run(start, length) computes the op on elements [start, start + length) of the inputs.</summary>
    private static void AssertPiecewiseBitwise(Func<int, int, float[]> run)
    {
        var whole = run(0, N);
        var pieces = new float[N];
        for (int start = 0, k = 0; start < N; k++)
        {
            int length = Math.Min(k % 2 == 0 ? 7 : 1000, N - start);
            run(start, length).CopyTo(pieces, start);
            start += length;
        }
        int firstDiff = Enumerable.Range(0, N).FirstOrDefault(
            i => BitConverter.SingleToInt32Bits(whole[i]) != BitConverter.SingleToInt32Bits(pieces[i]), -1);
        Assert.That(firstDiff, Is.EqualTo(-1),
            () => $"element {firstDiff}: whole {whole[firstDiff]:G9}, pieces {pieces[firstDiff]:G9}");
    }
}
