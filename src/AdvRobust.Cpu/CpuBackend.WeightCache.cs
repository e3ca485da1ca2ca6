using System.Runtime.CompilerServices;
using AdvRobust.Core;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Cpu;

// What a convolution derives from its weight before it multiplies, kept between calls for weights marked
// ConvParams.ConstantWeight (a model's, in an attack or an evaluation): the forward's packed W (Sgemm.PackedA, K × L),
// the data gradient's packed Wᵀ (L × K), and the Winograd path's 16 transformed filters for each direction. Without
// the mark every call derives them again into scratch, as before; with it, once per Storage.Version of the weight.
// The derived forms are exactly what a call would compute, so the results are the same bits either way.
// What it saves (CIFAR ResNet-18, B = 8, eval forward + input gradient): every call packed or transformed the whole
// weight, 45 MB of weights read and written again on each of the two passes (a 512-channel layer's W, 512 × 4608,
// packed in 0.35 ms beside a 2.3 ms GEMM at B = 8: scratch program, warm caches, direction only). The scratch
// per-op profile's sum of medians went 74.8 → 66.5 ms with it.
// Memory: about one more copy of the weights per direction used (ResNet-18: 2 × 45 MB), held while the weight's
// Storage object lives (a ConditionalWeakTable, so a dropped model's forms go with it).
public sealed partial class CpuBackend
{
    /// <summary>The forms a convolution derives from its weight (<see cref="DerivedWeight"/>).</summary>
    private enum WeightForm
    {
        ForwardPanels, DataGradientPanels, WinogradForward, WinogradDataGradient, Winograd4Forward, Winograd4DataGradient,
    }

    /// <summary>One weight's derived forms, each with the version and shape it was derived at.</summary>
    private sealed class DerivedForms
    {
        public readonly Lock Gate = new();
        public readonly (long Version, Shape Shape, float[]? Data)[] Forms = new (long, Shape, float[]?)[6];
    }

    private readonly ConditionalWeakTable<Storage, DerivedForms> _derived = new();
    private long _derivations;

    /// <summary>How many times a ConstantWeight convolution derived a form of its weight (packed panels, a Winograd
    /// transform) instead of reusing one: tests check that a model's second pass derives nothing and that a write
    /// through the façade makes the next one derive again.</summary>
    public long WeightDerivations => Interlocked.Read(ref _derivations);

    /// <summary>
    /// The form of w that <paramref name="derive"/> writes (length floats): kept and reused while w's
    /// <see cref="Storage.Version"/> and shape stay as they were when p.<see cref="ConvParams.ConstantWeight"/> is set
    /// (rented: false), else derived into scratch now (rented: true, to go back to <see cref="ConvScratch"/>). A stale
    /// form is derived again, in place, under the weight's lock (a call racing a write to the weight races it here
    /// too, as it would reading the weight itself).
    /// </summary>
    private float[] DerivedWeight(ConvParams p, Tensor w, WeightForm form, int length, Action<float[]> derive,
        out bool rented)
    {
        if (!p.ConstantWeight)
        {
            float[] scratch = ConvScratch.Rent(length);
            derive(scratch);
            rented = true;
            return scratch;
        }
        rented = false;
        var entry = _derived.GetValue(w.Storage, _ => new DerivedForms());
        lock (entry.Gate)
        {
            ref var slot = ref entry.Forms[(int)form];
            if (slot.Data is not null && slot.Version == w.Storage.Version && slot.Shape == w.Shape
                && slot.Data.Length == length)
                return slot.Data;
            float[] data = slot.Data is { } old && old.Length == length ? old : new float[length];
            derive(data);
            slot = (w.Storage.Version, w.Shape, data);
            Interlocked.Increment(ref _derivations);
            return data;
        }
    }
}
