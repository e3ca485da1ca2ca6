using System.Buffers.Binary;

namespace AdvRobust.Tests.Data;

/// <summary>Hand-built IDX files: magic 00 00 08 RR, big-endian dimensions, raw bytes.</summary>
public static class IdxBytes
{
    public static byte[] File(int magic, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static byte[] Images(int n, int h, int w, Func<int, byte>? pixel = null)
    {
        var data = new byte[n * h * w];
        for (int i = 0; i < data.Length; i++) data[i] = pixel?.Invoke(i) ?? (byte)(i * 7 % 256);
        return File(0x00000803, [n, h, w], data);
    }

    public static byte[] Labels(params byte[] labels) => File(0x00000801, [labels.Length], labels);
}
