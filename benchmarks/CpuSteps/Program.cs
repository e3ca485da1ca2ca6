using System.Diagnostics;
using AdvRobust.Benchmarks;
using AdvRobust.Core.Nn.Models;
using AdvRobust.Core.Optim;
using AdvRobust.Core.Tensors;
using AdvRobust.Cpu;

// The CPU side of benchmarks/cpu-compare.sh: the Madry small CNN on Fashion-MNIST shapes (1×28×28, 10 classes) at
// batch 256, the workloads of /work/shared/bench/torch_peer_cpu.py: a PGD-10 l-inf attack (eps 0.1, alpha 0.01,
// random start, CE, parameters constant) and a PGD-10 adversarial-training step (attack in eval mode, then a train-mode
// SGD step, lr 0.01, momentum 0.9), both from benchmarks/AdvRobust.Benchmarks/ModelSteps.cs. One untimed call of each
// (JIT, pools), then REPS timed calls each; prints "attack_img_s=…" and "at_img_s=…" (images per second over the timed
// calls), the form cpu-compare.sh parses. Usage: CpuSteps [--reps N] [--batch B].
int reps = Option("--reps", 3), batch = Option("--batch", 256);
const int classes = 10;
var backend = CpuBackend.Instance;
using var model = ModelZoo.Create("small-cnn", backend, classes, [1, 28, 28], [0f], [1f], seed: 1);
var sgd = new Sgd(model, learningRate: 0.01f, momentum: 0.9f);
var pgd = ModelSteps.LinfPgd(eps: 0.1f, alpha: 0.01f, steps: 10);
var rng = new Random(3);
var pixels = new float[batch * 28 * 28];
for (int i = 0; i < pixels.Length; i++) pixels[i] = rng.NextSingle();
using var x = Tensor.FromArray(backend, pixels, batch, 1, 28, 28);
using var labels = Tensor.FromArray(backend, Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray(), batch);
uint[] ids = ModelSteps.Ids(batch);

Console.WriteLine($"attack_img_s={Rate(() => ModelSteps.Attack(pgd, model, x, labels, ids)):F1}");
Console.WriteLine($"at_img_s={Rate(() => ModelSteps.AdversarialTrainStep(pgd, model, sgd, x, labels, ids)):F1}");
return 0;

double Rate(Action step)
{
    step();
    var clock = Stopwatch.StartNew();
    for (int r = 0; r < reps; r++) step();
    return batch * reps / clock.Elapsed.TotalSeconds;
}

int Option(string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length && int.TryParse(args[at + 1], out int v) && v > 0 ? v : fallback;
}
