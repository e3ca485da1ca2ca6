using AdvRobust.Core;
using AdvRobust.Core.Attacks;
using AdvRobust.Core.Autograd;
using AdvRobust.Core.Nn;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Benchmarks;

/// <summary>
/// The model-level workloads of the PyTorch peers (/work/shared/bench/torch_peer_{cpu,gpu}.py), written with the
/// engine's public API: a PGD attack (the engine's <see cref="Pgd"/>, parameters constant on its tape), a standard SGD
/// step, and a PGD adversarial-training step (attack in eval mode, then a train-mode forward/backward/SGD step).
/// Differences from the peers' hand-written PGD loop, both inherent to the engine's <see cref="Pgd"/>: it evaluates
/// the final iterate once more (Steps + 1 forward passes, Steps backward passes; the peer does Steps of each), and it
/// copies each step's per-sample losses and predictions to the host to keep every sample's highest-loss iterate.
/// KeepHighestLoss = true makes every run take all its steps (with false, a run stops once every sample is
/// misclassified, which on an untrained model can be at step 0, so the benchmark would time almost nothing).
/// </summary>
public static class ModelSteps
{
    /// <summary>l-inf PGD with a uniform random start in the eps-ball and the cross-entropy loss.</summary>
    public static Pgd LinfPgd(float eps, float alpha, int steps) =>
        new(new PgdSettings(PgdNorm.Linf, eps, alpha, steps, RandomStart: true, Loss: AttackLossKind.CrossEntropy,
            KeepHighestLoss: true, Seed: 1));

    /// <summary>Sample ids 0..n-1 (they key the random start's Philox streams).</summary>
    public static uint[] Ids(int n) => Enumerable.Range(0, n).Select(i => (uint)i).ToArray();

    /// <summary>The attack alone; the adversarial batch is freed before returning.</summary>
    public static void Attack(Pgd pgd, Classifier model, Tensor x, Tensor labels, uint[] ids)
    {
        using var result = pgd.Run(model, x, labels, ids);
    }

    /// <summary>One train-mode step on (x, labels): mean cross-entropy, backward, SGD.</summary>
    public static void TrainStep(Classifier model, Sgd sgd, Tensor x, Tensor labels)
    {
        model.Train();
        using var tape = new Tape(x.Backend);
        var logits = model.Forward(tape, tape.Constant(x)).Logits;
        var loss = F.Mean(tape, F.CrossEntropy(tape, logits, labels));
        sgd.ZeroGrad();
        tape.Backward(loss);
        sgd.Step();
    }

    /// <summary>
    /// One attack step's pass without the update: an eval-mode forward on an attack-mode tape (parameters constant),
    /// the summed cross-entropy, and its backward pass to the input (what <see cref="Pgd"/> does per step).
    /// </summary>
    public static void InputGradient(Classifier model, Tensor x, Tensor labels)
    {
        model.Eval();
        using var tape = new Tape(x.Backend, parameterGradients: false);
        var input = tape.Input(x);
        var loss = F.Sum(tape, F.CrossEntropy(tape, model.Forward(tape, input).Logits, labels));
        tape.Backward(loss);
        if (input.Grad is null) throw new InvalidOperationException("the loss does not depend on the input");
    }

    /// <summary>PGD-AT (Madry et al. 2018): the attack in eval mode, then a train step on the adversarial batch.</summary>
    public static void AdversarialTrainStep(Pgd pgd, Classifier model, Sgd sgd, Tensor x, Tensor labels, uint[] ids)
    {
        model.Eval();
        using var result = pgd.Run(model, x, labels, ids);
        TrainStep(model, sgd, result.Adversarial, labels);
    }
}
