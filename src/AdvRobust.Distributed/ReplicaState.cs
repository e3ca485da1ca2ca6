using AdvRobust.Core.Nn;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Distributed;

/// <summary>
/// The state every rank of a data-parallel run must hold identically: each parameter, its momentum buffer, and each
/// buffer (batch-norm running statistics), in the model's order. <see cref="Broadcast"/> makes rank 0's the
/// everyone's (at the start, and for the buffers after every step: per-rank batch-norm statistics differ, and rank 0's
/// are the ones kept, as PyTorch's DDP does by default); <see cref="Check"/> compares a 64-bit hash of every tensor
/// with rank 0's and throws naming the first one that differs.
/// </summary>
public sealed class ReplicaState(ICommunicator world, Module model)
{
    private readonly List<(string Name, Func<Tensor?> Get, Action<Tensor>? Create)> _tensors = Collect(model);

    /// <summary>When set (NCCL on a CUDA rank), float tensors are broadcast on the device; int tensors and the
    /// presence flags still go over MPI.</summary>
    public IDeviceCollectives? Device { get; set; }

    private static List<(string, Func<Tensor?>, Action<Tensor>?)> Collect(Module model)
    {
        var list = new List<(string, Func<Tensor?>, Action<Tensor>?)>();
        foreach (var (name, p) in model.NamedParameters())
        {
            list.Add((name, () => p.Value, null));
            list.Add((name + " (momentum)", () => p.Momentum, t => p.Momentum = t));
        }
        foreach (var (name, b) in model.NamedBuffers()) list.Add((name + " (buffer)", () => b, null));
        return list;
    }

    /// <summary>Rank 0's parameters, momentum buffers (created where rank 0 has one) and buffers to every rank.</summary>
    public void Broadcast(bool buffersOnly = false)
    {
        if (world.Size == 1) return;
        var present = _tensors.Select(t => t.Get() is null ? 0 : 1).ToArray();
        world.Broadcast<int>(present);
        for (int i = 0; i < _tensors.Count; i++)
        {
            var (name, get, create) = _tensors[i];
            if (buffersOnly && !name.EndsWith(" (buffer)", StringComparison.Ordinal)) continue;
            if (present[i] == 0) continue;
            var t = get();
            if (t is null)
            {
                var like = _tensors[i - 1].Get()!;
                t = Tensor.Zeros(like.Backend, like.Shape.Dims.ToArray());
                create!(t);
            }
            Broadcast(t);
        }
    }

    private void Broadcast(Tensor t)
    {
        if (Device is { } device && t.DType == DType.Float32)
        {
            device.Broadcast(t, 0);
            return;
        }
        switch (t.DType)
        {
            case DType.Float32:
                var f = t.ToArray<float>();
                world.Broadcast<float>(f);
                t.Backend.CopyIn<float>(t.Storage, f);
                break;
            case DType.Int32:
                var n = t.ToArray<int>();
                world.Broadcast<int>(n);
                t.Backend.CopyIn<int>(t.Storage, n);
                break;
            default:
                throw new NotSupportedException($"broadcast of {t.DType}");
        }
    }

    /// <summary>Throws <see cref="ReplicaDivergedException"/> on every rank when some rank's state differs from rank
    /// 0's, naming the first tensor (in model order) and the ranks that differ.</summary>
    public void Check(long step)
    {
        if (world.Size == 1) return;
        var hashes = _tensors.Select(t => Hash(t.Get())).ToArray();
        var root = (ulong[])hashes.Clone();
        world.Broadcast<ulong>(root);
        // differs[i] has bit r set when rank r's tensor i is not rank 0's (ranks ≤ 31 named; later ones as bit 31)
        var differs = new int[hashes.Length];
        for (int i = 0; i < hashes.Length; i++)
            if (hashes[i] != root[i]) differs[i] = 1 << Math.Min(world.Rank, 31);
        world.AllReduceSum<int>(differs);
        int first = Array.FindIndex(differs, d => d != 0);
        if (first < 0) return;
        var ranks = Enumerable.Range(1, 31).Where(r => (differs[first] & (1 << r)) != 0);
        throw new ReplicaDivergedException(
            $"data-parallel replicas diverged: after step {step}, '{_tensors[first].Name}' on rank(s) " +
            $"{string.Join(", ", ranks)} differs from rank 0's (hash {root[first]:x16}); " +
            $"{differs.Count(d => d != 0)} of {differs.Length} tensors differ. Every rank must run the same " +
            "build, backend and config (a nondeterministic reduction or a rank-dependent branch does this)");
    }

    /// <summary>FNV-1a over the tensor's bytes (0 for a tensor that does not exist).</summary>
    internal static ulong Hash(Tensor? t)
    {
        if (t is null) return 0;
        byte[] bytes = t.DType switch
        {
            DType.Float32 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToArray<float>().AsSpan()).ToArray(),
            DType.Int32 => System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToArray<int>().AsSpan()).ToArray(),
            _ => throw new NotSupportedException($"hash of {t.DType}"),
        };
        ulong h = 14695981039346656037UL;
        foreach (byte b in bytes) h = (h ^ b) * 1099511628211UL;
        return h;
    }
}

public sealed class ReplicaDivergedException(string message) : Exception(message);
