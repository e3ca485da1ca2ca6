using System.Buffers.Binary;
using System.Text;

namespace AdvRobust.Cuda;

/// <summary>What a cubin records about one kernel: registers per thread, stack frame bytes, and the
/// <c>__launch_bounds__</c> maximum block size (null when the kernel declares none).</summary>
public sealed record CubinFunction(string Name, int Registers, int FrameBytes, int? MaxThreadsPerBlock);

/// <summary>
/// Reads the per-kernel attributes NVIDIA stores in a cubin (an ELF64 file): the <c>.nv.info</c> section holds
/// EIATTR_REGCOUNT and EIATTR_FRAME_SIZE records keyed by symbol index, and each kernel's <c>.nv.info.NAME</c> section
/// holds EIATTR_MAX_THREADS when it was compiled with <c>__launch_bounds__</c>. The records are (format u8,
/// attribute u8, then a u16 value, or for format 4 (EIFMT_SVAL) a u16 size and that many bytes) — the layout
/// <c>cuobjdump -elf</c> prints. This is the cubin that gets loaded, read independently of ptxas's log.
/// </summary>
public static class CubinElf
{
    private const byte FormatSizedValue = 0x04;   // EIFMT_SVAL
    private const byte AttrMaxThreads = 0x05;     // EIATTR_MAX_THREADS: u32 x, y, z
    private const byte AttrFrameSize = 0x11;      // EIATTR_FRAME_SIZE: u32 symbol, u32 bytes
    private const byte AttrRegisterCount = 0x2f;  // EIATTR_REGCOUNT: u32 symbol, u32 registers

    /// <summary>Every kernel (<c>.text.NAME</c> section) of the cubin, by name.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ELF64 little-endian cubin, or a record is cut short.</exception>
    public static IReadOnlyDictionary<string, CubinFunction> Functions(byte[] cubin, string what = "cubin")
    {
        ReadOnlySpan<byte> elf = cubin;
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F'
            || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException($"{what}: not an ELF64 little-endian file ({elf.Length} bytes)");
        long sectionTable = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf[0x28..]);
        int entrySize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3a..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3c..]);
        int namesIndex = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3e..]);
        if (sectionTable < 0 || sectionTable + (long)entrySize * count > elf.Length || entrySize < 64
            || namesIndex >= count)
            throw new InvalidDataException($"{what}: section table outside the file");
        var sections = new (uint Name, long Offset, long Size)[count];
        for (int i = 0; i < count; i++)
        {
            var h = elf[(int)(sectionTable + (long)i * entrySize)..];
            sections[i] = (BinaryPrimitives.ReadUInt32LittleEndian(h), (long)BinaryPrimitives.ReadUInt64LittleEndian(h[0x18..]),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(h[0x20..]));
        }
        var names = new List<string>(count);
        for (int i = 0; i < count; i++) names.Add(CString(cubin, sections[namesIndex].Offset + sections[i].Name, what));
        byte[] Body(int i) => sections[i].Offset + sections[i].Size <= cubin.Length
            ? cubin.AsSpan((int)sections[i].Offset, (int)sections[i].Size).ToArray()
            : throw new InvalidDataException($"{what}: section {names[i]} runs past the end of the file");

        var kernels = names.Where(n => n.StartsWith(".text.", StringComparison.Ordinal)).Select(n => n[6..]).ToList();
        int symtab = names.IndexOf(".symtab"), strtab = names.IndexOf(".strtab");
        if (symtab < 0 || strtab < 0) throw new InvalidDataException($"{what}: no .symtab or .strtab section");
        byte[] table = Body(symtab), strings = Body(strtab);
        var symbols = new List<string>();
        for (int p = 0; p + 24 <= table.Length; p += 24)
            symbols.Add(CString(strings, BinaryPrimitives.ReadUInt32LittleEndian(table.AsSpan(p)), what));
        var registers = new Dictionary<string, int>();
        var frames = new Dictionary<string, int>();
        int infoIndex = names.IndexOf(".nv.info");
        if (infoIndex >= 0)
        {
            foreach (var (attr, value) in Records(Body(infoIndex), what))
            {
                if (value.Length != 8 || attr is not (AttrRegisterCount or AttrFrameSize)) continue;
                int symbol = (int)BinaryPrimitives.ReadUInt32LittleEndian(value);
                if (symbol < 0) throw new InvalidDataException($"{what}: .nv.info names symbol {symbol}");
                if (symbol >= symbols.Count) throw new InvalidDataException($"{what}: .nv.info names symbol {symbol}");
                (attr == AttrRegisterCount ? registers : frames)[symbols[symbol]] =
                    (int)BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(4));
            }
        }
        var result = new Dictionary<string, CubinFunction>(StringComparer.Ordinal);
        foreach (var kernel in kernels)
        {
            int? maxThreads = null;
            int own = names.IndexOf(".nv.info." + kernel);
            if (own >= 0)
            {
                foreach (var (attr, value) in Records(Body(own), what))
                {
                    if (attr != AttrMaxThreads || value.Length != 12) continue;
                    maxThreads = (int)(BinaryPrimitives.ReadUInt32LittleEndian(value)
                                       * BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(4))
                                       * BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(8)));
                }
            }
            result[kernel] = new CubinFunction(kernel,
                registers.TryGetValue(kernel, out int r) ? r
                    : throw new InvalidDataException($"{what}: no EIATTR_REGCOUNT for kernel {kernel}"),
                frames.GetValueOrDefault(kernel), maxThreads);
        }
        return result;
    }

    private static List<(byte Attr, byte[] Value)> Records(byte[] info, string what)
    {
        var records = new List<(byte, byte[])>();
        int p = 0;
        while (p + 4 <= info.Length)
        {
            byte format = info[p], attr = info[p + 1];
            if (format != FormatSizedValue)
            {
                records.Add((attr, info[(p + 2)..(p + 4)]));
                p += 4;
                continue;
            }
            int size = BinaryPrimitives.ReadUInt16LittleEndian(info.AsSpan(p + 2));
            if (p + 4 + size > info.Length) throw new InvalidDataException($"{what}: an .nv.info record is cut short");
            records.Add((attr, info[(p + 4)..(p + 4 + size)]));
            p += 4 + size;
        }
        return records;
    }

    private static string CString(byte[] bytes, long offset, string what)
    {
        if (offset >= bytes.Length) throw new InvalidDataException($"{what}: a name lies outside its string table");
        var rest = bytes.AsSpan((int)offset);
        int end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }
}
