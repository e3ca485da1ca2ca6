using AdvRobust.Core.Tensors;

namespace AdvRobust.Core.Autograd;

/// <summary>
/// The derivative table: one rule per op, mapping (grad of the output, inputs, saved values) to the grads of the inputs
/// (null where an input needs none). A rule that grows past a few lines becomes a backend op with its own kernel.
/// Every rule allocates its results on the tape, so they are freed with it.
/// </summary>
internal static class Derivatives
{
    public static Tensor?[] Apply(Node n, Tensor g, Tape t)
    {
        var x = n.Inputs;
        bool Need(int i) => x[i].RequiresGrad;
        Tensor New(Variable like) => t.Empty(like.Shape.Dims.ToArray());
        switch (n.Op)
        {
            case OpKind.Unary:
                return [Do(New(x[0]), dx => Ops.UnaryBackward((UnaryOp)n.Attributes!, x[0].Value, g, dx))];
            case OpKind.Binary:
                return BinaryRule((BinaryOp)n.Attributes!, g, x[0].Value, x[1].Value, t);
            case OpKind.Scale:
                return [Do(New(x[0]), dx => { Ops.Fill(dx, 0f); Ops.Axpby((float)n.Attributes!, g, 0f, dx); })];
            case OpKind.View:
                return [g.View((int[])n.Attributes!)];
            case OpKind.MatMul:
            {
                var (ta, tb) = ((bool, bool))n.Attributes!;
                Tensor a = x[0].Value, b = x[1].Value;
                return
                [
                    Need(0) ? (ta ? Ops.MatMul(b, g, tb, true) : Ops.MatMul(g, b, false, !tb)).OwnedBy(t) : null,
                    Need(1) ? (tb ? Ops.MatMul(g, a, true, ta) : Ops.MatMul(a, g, !ta, false)).OwnedBy(t) : null,
                ];
            }
            case OpKind.SumAll:
            {
                // d(sum)/dx = 1 everywhere: broadcast the scalar g (one launch; a copy, as g·1 is exactly g).
                var dx = t.Empty(1, 1, checked((int)x[0].Value.Length));
                Ops.ChannelFill(g, dx);
                return [dx.View(x[0].Shape.Dims.ToArray())];
            }
            case OpKind.Conv2d:
            {
                var p = (ConvParams)n.Attributes!;
                return
                [
                    Need(0) ? Do(New(x[0]), dx => Ops.Conv2dBackwardData(p, g, x[1].Value, dx)) : null,
                    Need(1) ? Do(New(x[1]), dw => Ops.Conv2dBackwardFilter(p, x[0].Value, g, dw)) : null,
                ];
            }
            case OpKind.Conv2dBiasRelu:
            {
                // y = relu(z), z = conv(x, w) + b: y > 0 exactly where z > 0, so the mask comes from the saved output;
                // then the bias add's and the convolution's own rules, as in the unfused chain.
                var p = (ConvParams)n.Attributes!;
                var dz = Do(t.Empty(n.Output.Shape.Dims.ToArray()),
                    d => Ops.UnaryBackward(UnaryOp.Relu, n.Output.Value, g, d));
                return
                [
                    Need(0) ? Do(New(x[0]), dx => Ops.Conv2dBackwardData(p, dz, x[1].Value, dx)) : null,
                    Need(1) ? Do(New(x[1]), dw => Ops.Conv2dBackwardFilter(p, x[0].Value, dz, dw)) : null,
                    Need(2) ? Do(New(x[2]), db => Ops.ChannelSum(dz, db)) : null,
                ];
            }
            case OpKind.Pool2d:
                return [Do(New(x[0]), dx => Ops.Pool2dBackward((PoolParams)n.Attributes!, x[0].Value, n.Output.Value, g, dx))];
            case OpKind.BatchNormTrain:
            {
                Tensor dx = New(x[0]), dgamma = New(x[1]), dbeta = New(x[2]);
                Ops.BatchNormBackward((BatchNormParams)n.Attributes!, x[0].Value, g, x[1].Value, n.Saved[0], n.Saved[1],
                    dx, dgamma, dbeta);
                return [dx, dgamma, dbeta];
            }
            case OpKind.BatchNormEval:
            {
                // y = x·scale + shift with scale = γ·invStd: dx = g·scale, dγ = Σ g·x̂ (x̂ = x·invStd − mean·invStd), dβ = Σ g.
                Tensor scale = n.Saved[0], invStd = n.Saved[1], xhatShift = n.Saved[2];
                return
                [
                    Need(0) ? Do(New(x[0]), dx => Ops.ChannelAffine(g, scale, null, dx)) : null,
                    Need(1) ? ChannelSumOfProduct(g, x[0].Value, invStd, xhatShift, t) : null,
                    Need(2) ? Do(New(x[2]), db => Ops.ChannelSum(g, db)) : null,
                ];
            }
            case OpKind.ChannelAffine:
            {
                var (hasScale, _) = ((bool, bool))n.Attributes!;
                Tensor? scale = hasScale ? x[1].Value : null;
                return
                [
                    Need(0) ? Do(New(x[0]), dx => Ops.ChannelAffine(g, scale, null, dx)) : null,
                    Need(1) ? ChannelSumOfProduct(g, x[0].Value, null, null, t) : null,
                    Need(2) ? Do(New(x[2]), ds => Ops.ChannelSum(g, ds)) : null,
                ];
            }
            case OpKind.CrossEntropy:
            {
                var (labels, smoothing) = ((Tensor, float))n.Attributes!;
                return [Do(New(x[0]), dx => Ops.SoftmaxCrossEntropyBackward(n.Saved[0], labels, smoothing, g, dx))];
            }
            case OpKind.LogSoftmax:
                return [Do(New(x[0]), dx => Ops.LogSoftmaxBackward(n.Output.Value, g, dx))];
            case OpKind.Margin:
            {
                var (kind, labels, targets) = ((MarginKind, Tensor, Tensor?))n.Attributes!;
                return [Do(New(x[0]), dx => Ops.MarginLossBackward(kind, x[0].Value, labels, targets, g, dx))];
            }
            case OpKind.PairwiseDistance:
            {
                Tensor da = New(x[0]), db = New(x[1]);
                Ops.PairwiseDistanceBackward((DistanceKind)n.Attributes!, x[0].Value, x[1].Value, g, da, db);
                return [da, db];
            }
            case OpKind.TripletLoss:
            {
                var (kind, margin) = ((DistanceKind, float))n.Attributes!;
                Tensor da = New(x[0]), dp = New(x[1]), dn = New(x[2]);
                Ops.TripletLossBackward(kind, margin, x[0].Value, x[1].Value, x[2].Value, g, da, dp, dn);
                return [da, dp, dn];
            }
            case OpKind.GatherRows: // gather helper's rule, in F.Gather.cs: a scatter-add of g
                return [F.GatherRowsBackward(n, g, t)];
            case OpKind.BatchNormSynced: // synchronized batch norm's rule, in F.SyncBatchNorm.cs
                return F.BatchNormSyncedBackward(n, g, t);
            default:
                throw new NotSupportedException($"no derivative rule for {n.Op}");
        }
    }

    private static Tensor?[] BinaryRule(BinaryOp op, Tensor g, Tensor a, Tensor b, Tape t)
    {
        Tensor New() => t.Empty(g.Shape.Dims.ToArray());
        switch (op)
        {
            case BinaryOp.Add: return [g, g];
            case BinaryOp.Sub: return [g, Do(New(), d => { Ops.Fill(d, 0f); Ops.Axpby(-1f, g, 0f, d); })];
            case BinaryOp.Mul:
                return [Do(New(), d => Ops.Binary(BinaryOp.Mul, g, b, d)), Do(New(), d => Ops.Binary(BinaryOp.Mul, g, a, d))];
            case BinaryOp.Div:
            {
                // d(a/b)/da = 1/b; d(a/b)/db = −a/b² = −(a/b)/b.
                var da = Do(New(), d => Ops.Binary(BinaryOp.Div, g, b, d));
                var db = Do(New(), d => { Ops.Binary(BinaryOp.Div, a, b, d); Ops.Binary(BinaryOp.Mul, d, da, d); });
                Ops.Axpby(0f, db, -1f, db);
                return [da, db];
            }
            default: throw new NotSupportedException($"no derivative rule for {op}");
        }
    }

    /// <summary>Σ over all axes but 1 of g·(x·scale + shift), or of g·x when scale and shift are null.</summary>
    private static Tensor ChannelSumOfProduct(Tensor g, Tensor x, Tensor? scale, Tensor? shift, Tape t)
    {
        var prod = t.Empty(x.Shape.Dims.ToArray());
        if (scale is null && shift is null) Ops.Binary(BinaryOp.Mul, g, x, prod);
        else
        {
            Ops.ChannelAffine(x, scale, shift, prod);
            Ops.Binary(BinaryOp.Mul, g, prod, prod);
        }
        var sum = t.Empty(x.Shape[1]);
        Ops.ChannelSum(prod, sum);
        return sum;
    }

    private static Tensor Do(Tensor target, Action<Tensor> fill)
    {
        fill(target);
        return target;
    }

    private static Tensor OwnedBy(this Tensor tensor, Tape t) => t.Own(tensor);
}
