using System.Runtime.CompilerServices;
using AdvRobust.Core.Tensors;

namespace AdvRobust.Core;

/// <summary>
/// The checked entry point to every backend op: validates dtypes, shapes and that all tensors live on one
/// backend, with a message that names the op, the argument and what was expected, then calls the backend.
/// </summary>
public static partial class Ops
{
    internal static void Require(bool ok, string op, string message)
    {
        if (!ok) throw new ArgumentException($"{op}: {message}");
    }

    internal static IBackend SameBackend(string op, params Tensor[] tensors)
    {
        var backend = tensors[0].Backend;
        foreach (var t in tensors)
        {
            if (t.Storage.IsDisposed) throw new ObjectDisposedException($"{op}: a {t.Shape} tensor was already disposed");
            Require(ReferenceEquals(t.Backend, backend), op,
                $"tensors live on different backends ({backend.Name} and {t.Backend.Name}); copy with Tensor.To first");
        }
        return backend;
    }

    internal static void RequireF32(string op, Tensor t, [CallerArgumentExpression(nameof(t))] string? name = null) =>
        Require(t.DType == DType.Float32, op, $"{name} must be Float32, got {t.DType}");

    internal static void RequireRank(string op, Tensor t, int rank, [CallerArgumentExpression(nameof(t))] string? name = null) =>
        Require(t.Rank == rank, op, $"{name} must have rank {rank}, got shape {t.Shape}");

    internal static void RequireSameShape(string op, Tensor a, Tensor b,
        [CallerArgumentExpression(nameof(a))] string? nameA = null,
        [CallerArgumentExpression(nameof(b))] string? nameB = null) =>
        Require(a.Shape == b.Shape, op, $"{nameA} {a.Shape} and {nameB} {b.Shape} must have the same shape");

    internal static void RequireShape(string op, Tensor t, Shape expected,
        [CallerArgumentExpression(nameof(t))] string? name = null) =>
        Require(t.Shape == expected, op, $"{name} must have shape {expected}, got {t.Shape}");
}
