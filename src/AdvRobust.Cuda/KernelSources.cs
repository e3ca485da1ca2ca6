using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace AdvRobust.Cuda;

/// <summary>
/// The kernel sources embedded in this assembly from kernels/*.cu and kernels/*.cuh (the only kernel source).
/// A family's hash covers its .cu and every header, so any edit invalidates fatbins and cached cubins.
/// </summary>
public static class KernelSources
{
    private static readonly Lazy<Dictionary<string, byte[]>> Raw = new(ReadAll);
    private static readonly Lazy<Dictionary<string, string>> All =
        new(() => Raw.Value.ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetString(kv.Value)));

    /// <summary>Kernel families: the .cu file names without extension ("pgd", "distance", ...).</summary>
    public static IReadOnlyList<string> Families =>
        All.Value.Keys.Where(k => k.EndsWith(".cu", StringComparison.Ordinal)).Select(k => k[..^3]).Order().ToList();

    /// <summary>Headers (.cuh) by include name, passed to NVRTC.</summary>
    public static IReadOnlyDictionary<string, string> Headers =>
        All.Value.Where(kv => kv.Key.EndsWith(".cuh", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);

    public static string Source(string family) =>
        All.Value.TryGetValue(family + ".cu", out var s)
            ? s
            : throw new ArgumentException($"no kernel family '{family}'; known: {string.Join(", ", Families)}");

    /// <summary>
    /// First 16 hex digits of SHA-256 over the bytes of the family's .cu followed by every .cuh in ordinal name order,
    /// i.e. <c>cat kernels/F.cu $(ls kernels/*.cuh | LC_ALL=C sort) | sha256sum | cut -c1-16</c> in a shell.
    /// </summary>
    public static string Hash(string family)
    {
        Source(family);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Raw.Value[family + ".cu"]);
        foreach (var name in Raw.Value.Keys.Where(k => k.EndsWith(".cuh", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            sha.AppendData(Raw.Value[name]);
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    private static Dictionary<string, byte[]> ReadAll()
    {
        var asm = typeof(KernelSources).Assembly;
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in asm.GetManifestResourceNames().Where(n => n.StartsWith("kernels/", StringComparison.Ordinal)))
        {
            using var stream = asm.GetManifestResourceStream(name)!;
            using var bytes = new MemoryStream();
            stream.CopyTo(bytes);
            result[name["kernels/".Length..]] = bytes.ToArray();
        }
        return result;
    }
}
