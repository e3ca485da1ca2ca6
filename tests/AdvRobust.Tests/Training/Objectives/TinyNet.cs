using AdvRobust.Core;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Nn.Layers;
using AdvRobust.Core.Nn.Models;

namespace AdvRobust.Tests.Training.Objectives;

/// <summary>
/// The objectives' test model on 1×4×4 images: conv 3×3 (pad 1) → batch norm → tanh → fc 64 → 8 → tanh (the
/// embedding) → fc 8 → K. Batch norm makes train and eval mode differ; tanh keeps the loss smooth for finite
/// differences. Seeded, so two nets built with one seed are bit-identical.
/// </summary>
public sealed class TinyNet : ImageClassifier
{
    public const int Side = 4, Channels = 4, Embedding = 8;

    public TinyNet(IBackend backend, ulong seed, int classes = 3) : this(new ParameterInit(backend, seed), classes)
    {
    }

    private TinyNet(ParameterInit init, int classes) : base(init, classes, [1, Side, Side], [0.5f], [0.25f])
    {
        Conv = RegisterModule("conv", new Conv2d(init, 1, Channels, 3, padding: 1));
        Bn = RegisterModule("bn", new BatchNorm2d(init, Channels));
        Fc1 = RegisterModule("fc1", new Linear(init, Channels * Side * Side, Embedding));
        Fc2 = RegisterModule("fc2", new Linear(init, Embedding, classes));
    }

    public Conv2d Conv { get; }
    public BatchNorm2d Bn { get; }
    public Linear Fc1 { get; }
    public Linear Fc2 { get; }
    public override int EmbeddingDim => Embedding;

    /// <summary>Train-mode forward passes so far (batch norm counts them).</summary>
    public int TrainingForwards => (int)Bn.NumBatchesTracked.ToArray()[0];

    protected override ModelOutput ForwardNormalized(Tape tape, Variable x)
    {
        var h = F.Unary(tape, UnaryOp.Tanh, Bn.Forward(tape, Conv.Forward(tape, x)));
        var embedding = F.Unary(tape, UnaryOp.Tanh, Fc1.Forward(tape, F.Flatten(tape, h)));
        return new ModelOutput(Fc2.Forward(tape, embedding), embedding);
    }
}
