namespace AdvRobust.Core.Tensors;

/// <summary>
/// A Philox key in device memory: Int32[4] = (seed lo, seed hi, stream, first sample), for the keyed ops
/// (<see cref="Ops.RandomCropFlip(Tensor, Tensor, int, bool, DeviceKey)"/>, PgdRandomStart, GaussianNoise). A step
/// captured as a CUDA graph reads its key from here, so one graph serves every step: <see cref="Set"/> writes the
/// next step's key with one non-blocking upload before the replay (never inside the step). The keyed ops draw exactly
/// what the argument-keyed ones draw with the same (seed, stream, first sample).
/// </summary>
public sealed class DeviceKey : IDisposable
{
    private readonly int[] _words = new int[4];

    public DeviceKey(IBackend backend) => Tensor = Tensor.FromArray(backend, new int[4], 4);

    /// <summary>The four words on the device.</summary>
    public Tensor Tensor { get; }

    /// <summary>Uploads (seed, stream, firstSample); stream-ordered, so earlier work still sees the old key.</summary>
    public void Set(ulong seed, uint stream = 0, uint firstSample = 0)
    {
        (_words[0], _words[1]) = (unchecked((int)(uint)seed), unchecked((int)(uint)(seed >> 32)));
        (_words[2], _words[3]) = (unchecked((int)stream), unchecked((int)firstSample));
        Tensor.Backend.CopyIn(Tensor.Storage, (ReadOnlySpan<int>)_words);
    }

    public void Dispose() => Tensor.Dispose();
}
