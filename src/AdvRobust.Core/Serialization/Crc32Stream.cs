namespace AdvRobust.Core.Serialization;

/// <summary>
/// A read-only pass-through stream that computes the CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zip
/// and gzip use) of the bytes read through it. .NET's ZipArchive does not check an entry's stored CRC, so the .npz
/// reader compares <see cref="Crc"/> with it after reading the entry to its end.
/// </summary>
internal sealed class Crc32Stream(Stream inner) : Stream
{
    private static readonly uint[] Table = BuildTable();
    private uint _state = 0xFFFFFFFF;

    /// <summary>The CRC-32 of everything read so far.</summary>
    public uint Crc => ~_state;

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        uint state = _state;
        foreach (byte b in buffer[..n]) state = Table[(state ^ b) & 0xFF] ^ (state >> 8);
        _state = state;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }
}
