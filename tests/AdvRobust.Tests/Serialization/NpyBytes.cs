using System.Text;

namespace AdvRobust.Tests.Serialization;

/// <summary>Hand-built .npy files: magic, version, little-endian header length, the dict padded to a multiple of
/// 64 with spaces and '\n', then the raw data — written out here independently of the engine's writer.</summary>
public static class NpyBytes
{
    public static byte[] File(string dict, byte[] data, int major = 1)
    {
        int lengthBytes = major == 1 ? 2 : 4;
        int prefix = 6 + 2 + lengthBytes;
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        string header = dict + new string(' ', total - prefix - dict.Length - 1) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.Add((byte)major);
        bytes.Add(0);
        bytes.Add((byte)header.Length);
        bytes.Add((byte)(header.Length >> 8));
        if (lengthBytes == 4) { bytes.Add((byte)(header.Length >> 16)); bytes.Add((byte)(header.Length >> 24)); }
        bytes.AddRange(major == 3 ? Encoding.UTF8.GetBytes(header) : Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    public static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    public static string Dict(string descr, string shape, bool fortran = false) =>
        $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";
}
